"""The plux plugin LocalStack loads when LAMBDA_RUNTIME_EXECUTOR=host."""

from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin


class HostRuntimeExecutorPlugin(RuntimeExecutorPlugin):
    name = "host"

    def load(self, *args, **kwargs):
        # Imported here, as LocalStack's own docker plugin does, so listing
        # plugins costs no import of the executor.
        from tel_host_executor.executor import HostRuntimeExecutor

        return HostRuntimeExecutor
