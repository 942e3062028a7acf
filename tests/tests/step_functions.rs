//! Step Functions drives tel: the example state machine
//! (`examples/workflows/order-approval`), run by the emulator's own ASL
//! interpreter, puts each step on the requests queue with its task token
//! (`.waitForTaskToken`) and waits; tel answers the token when the task ends,
//! and sends heartbeats while it waits on a person.

use std::time::{Duration, Instant};

use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::{Value, json};
use tel_core::domain::{TaskInstanceId, TaskStatus};
use tel_core::integrations::Integration;
use tel_tests::api::{Api, As};
use tel_tests::{EventWatcher, TestStack, fake_service, random_name};

const WAIT: Duration = Duration::from_secs(60);
const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");
/// The approval step's `HeartbeatSeconds` in these tests: shorter than a
/// person takes, so the step lives only as long as tel's heartbeats come.
/// tel sends one a second here; 8 s leaves room for a loaded machine (at 5 s
/// LocalStack timed the step out once while the heaviest tests ran beside it).
const STEP_HEARTBEAT_SECONDS: u64 = 8;

fn example(path: &str) -> String {
    std::fs::read_to_string(format!("{EXAMPLE}/{path}")).unwrap()
}

fn example_json(path: &str) -> Value {
    serde_json::from_str(&example(path)).unwrap()
}

struct Example {
    t: TestStack,
    sfn: aws_sdk_sfn::Client,
    state_machine: String,
    api: Api,
    events: EventWatcher,
}

/// A stack with the example's definitions and integration (calling a local
/// service), and the example state machine pointed at its requests queue.
async fn example_stack() -> (Example, tel_local::LocalRunner) {
    let t = TestStack::new().await.unwrap();
    enable_step_functions().await;
    let (base, _service) = fake_service::start().await;
    let mut approval = example_json("workflows/order-approval/order-approval.json");
    approval["heartbeatSeconds"] = json!(1);
    let mut orders = example_json("workflows/order-approval/integration-orders.json");
    orders["baseUrl"] = json!(format!("{base}/echo"));
    orders["allowPrivateNetworks"] = json!(true);
    t.engine
        .integrations()
        .register(Integration::parse(orders).unwrap())
        .await
        .unwrap();
    for definition in [
        example_json("definitions/order-total.json"),
        approval,
        example_json("workflows/order-approval/order-submit.json"),
    ] {
        t.register(definition).await.unwrap();
    }
    let queue = t.queue_url("RequestsQueue");
    let asl = example("workflows/order-approval/state-machine.asl.json")
        .replace("${RequestsQueueUrl}", &queue)
        .replace(
            "\"HeartbeatSeconds\": 300",
            &format!("\"HeartbeatSeconds\": {STEP_HEARTBEAT_SECONDS}"),
        );
    let sfn = aws_sdk_sfn::Client::new(&t.sdk);
    // The account is the queue's (the emulators differ): never written down.
    let account = queue.rsplit('/').nth(1).unwrap();
    let state_machine = sfn
        .create_state_machine()
        .name(random_name("order-approval"))
        .definition(asl)
        .role_arn(format!("arn:aws:iam::{account}:role/order-approval"))
        .send()
        .await
        .unwrap()
        .state_machine_arn;
    let (events, runner) = t.run_watched().await;
    let api = Api::serve(&t).await;
    let example = Example {
        t,
        sfn,
        state_machine,
        api,
        events,
    };
    (example, runner)
}

/// moto runs state machines only when told to; LocalStack always does (and
/// has no such endpoint, which is fine).
async fn enable_step_functions() {
    let _ = tel_tests::http_client()
        .post(format!("{}/moto-api/config", tel_tests::endpoint()))
        .json(&json!({ "stepfunctions": { "execute_state_machine": true } }))
        .send()
        .await;
}

fn order(items: Value) -> Value {
    json!({ "order": { "orderId": "A-17", "discountPercent": 10, "items": items } })
}

impl Example {
    async fn start(&self, input: Value) -> (String, String) {
        let name = random_name("order");
        let arn = self
            .sfn
            .start_execution()
            .state_machine_arn(&self.state_machine)
            .name(&name)
            .input(input.to_string())
            .send()
            .await
            .unwrap()
            .execution_arn;
        (name, arn)
    }

    /// Waits for the execution to leave RUNNING; its status and output.
    async fn finished(&self, arn: &str) -> (ExecutionStatus, Value) {
        let deadline = Instant::now() + WAIT;
        loop {
            let d = self
                .sfn
                .describe_execution()
                .execution_arn(arn)
                .send()
                .await
                .unwrap();
            if d.status != ExecutionStatus::Running {
                let output = match d.output.as_deref() {
                    Some(o) => serde_json::from_str(o).unwrap(),
                    None => self.why_it_ended(arn).await,
                };
                return (d.status, output);
            }
            assert!(Instant::now() < deadline, "execution {arn} still running");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// For an execution without output: its last events, which say why it
    /// ended (a heartbeat timeout, a failed state), for the failure message.
    async fn why_it_ended(&self, arn: &str) -> Value {
        let history = self
            .sfn
            .get_execution_history()
            .execution_arn(arn)
            .reverse_order(true)
            .max_results(3)
            .send()
            .await
            .unwrap();
        Value::Array(
            history
                .events()
                .iter()
                .map(|e| json!(format!("{e:?}")))
                .collect(),
        )
    }

    /// The approval task of an execution, once assigned.
    async fn approval_task(&mut self, execution: &str) -> String {
        let assigned = self
            .events
            .wait_for(WAIT, |e| {
                e["detail-type"] == "task.assigned"
                    && e["detail"]["workflowInstanceId"] == execution
            })
            .await
            .unwrap();
        assigned["detail"]["taskInstanceId"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

#[tokio::test]
async fn the_example_state_machine_runs_three_tel_steps_and_threads_their_outputs() {
    let (mut x, runner) = example_stack().await;
    let items = json!([{ "sku": "BOOK-1", "price": 12.5, "quantity": 2 }, { "sku": "PEN-7", "price": 1.25, "quantity": 4 }]);
    let (name, arn) = x.start(order(items)).await;
    let task = x.approval_task(&name).await;
    // The person takes longer than the step's HeartbeatSeconds: tel's
    // heartbeats keep the step alive meanwhile.
    tokio::time::sleep(Duration::from_secs(STEP_HEARTBEAT_SECONDS + 3)).await;
    let approver = As::user("ann", &["approvers"]);
    let (status, form) = x.api.get(&approver, &format!("/tasks/{task}/form")).await;
    assert_eq!(status, 200, "{form}");
    assert_eq!(
        form["input"]["data"]["total"],
        json!(27),
        "the approval sees the priced order: {form}"
    );
    let (status, done) = x
        .api
        .post(
            &approver,
            &format!("/tasks/{task}/complete"),
            json!({ "output": { "approved": true, "comment": "fine" } }),
        )
        .await;
    assert_eq!(status, 200, "{done}");

    let (status, output) = x.finished(&arn).await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{output}");
    assert_eq!(
        output["priced"],
        json!({ "orderId": "A-17", "subtotal": 30, "discount": 3, "total": 27 })
    );
    assert_eq!(
        output["approval"],
        json!({ "approved": true, "comment": "fine" })
    );
    assert_eq!(
        output["placed"],
        json!({ "confirmation": "srv-77", "state": "accepted" })
    );
    // The token stays with the task: not in its API view nor its events.
    let id = TaskInstanceId::parse(&task).unwrap();
    let stored = x.t.task(id).await.unwrap();
    let token = stored.callback.expect("kept with the task").task_token;
    let (_, view) = x.api.get(&As::admin(), &format!("/tasks/{task}")).await;
    assert!(!view.to_string().contains(&token));
    x.events.drain(Duration::from_secs(1)).await.unwrap();
    assert!(
        x.events
            .seen()
            .iter()
            .all(|e| !e.to_string().contains(&token)),
        "no event carries the token"
    );
    runner.stop().await;
}

#[tokio::test]
async fn a_step_whose_input_fails_validation_takes_the_catch_branch() {
    let (x, runner) = example_stack().await;
    let (_, arn) = x.start(order(json!([]))).await;
    let (status, output) = x.finished(&arn).await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{output}");
    assert_eq!(output["error"]["Error"], "VALIDATION_ERROR", "{output}");
    assert!(output.get("priced").is_none());
    runner.stop().await;
}

#[tokio::test]
async fn stopping_the_execution_cancels_its_open_tel_task() {
    let (mut x, runner) = example_stack().await;
    let items = json!([{ "sku": "BOOK-1", "price": 5, "quantity": 1 }]);
    let (name, arn) = x.start(order(items)).await;
    let task = x.approval_task(&name).await;
    x.sfn
        .stop_execution()
        .execution_arn(&arn)
        .send()
        .await
        .unwrap();
    let cancelled = x
        .events
        .wait_for_type("task.cancelled", Some(&task), WAIT)
        .await
        .unwrap();
    assert!(
        cancelled["detail"]["reason"]
            .as_str()
            .unwrap()
            .contains("Step Functions step"),
        "{cancelled}"
    );
    let stored =
        x.t.task(TaskInstanceId::parse(&task).unwrap())
            .await
            .unwrap();
    assert_eq!(stored.status, TaskStatus::Cancelled);
    assert!(stored.callback.is_none(), "a dead token is not kept");
    // AWS says ABORTED; moto's interpreter ends a stopped execution that
    // was waiting on a token as FAILED.
    let (status, _) = x.finished(&arn).await;
    assert!(
        [ExecutionStatus::Aborted, ExecutionStatus::Failed].contains(&status),
        "{status:?}"
    );
    runner.stop().await;
}

/// One trace from the request to the step's answer: a state whose request
/// carries its `traceparent` (a sender that cannot set message attributes)
/// and asks for the envelope; the trace is on every event, goes out on the
/// HTTP call, and comes back in the output the step receives.
#[tokio::test]
async fn one_trace_runs_from_the_request_through_the_events_and_the_http_call_to_the_steps_output()
{
    let t = TestStack::new().await.unwrap();
    enable_step_functions().await;
    let (base, _service) = fake_service::start().await;
    let orders = json!({ "name": "orders", "baseUrl": format!("{base}/echo"), "allowPrivateNetworks": true });
    t.engine
        .integrations()
        .register(Integration::parse(orders).unwrap())
        .await
        .unwrap();
    t.register(json!({
        "name": "place", "type": "integration",
        "implementation": {
            "kind": "http", "integration": "orders",
            "request": { "method": "POST", "path": "/orders" },
            "response": { "output": "{ traceparent: body.traceparent }" }
        },
        "retry": { "maxAttempts": 1 }
    }))
    .await
    .unwrap();
    let trace = "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01";
    let queue = t.queue_url("RequestsQueue");
    let asl = json!({
        "StartAt": "Place",
        "States": { "Place": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {
                "QueueUrl": queue,
                "MessageBody": {
                    "taskDefinitionId": "place",
                    "workflowInstanceId.$": "$$.Execution.Name",
                    "stepId": "place",
                    "input": {},
                    "taskToken.$": "$$.Task.Token",
                    "traceparent": trace,
                    "callbackOutput": "envelope"
                }
            },
            "TimeoutSeconds": 60,
            "End": true
        } }
    });
    let sfn = aws_sdk_sfn::Client::new(&t.sdk);
    let account = queue.rsplit('/').nth(1).unwrap();
    let state_machine = sfn
        .create_state_machine()
        .name(random_name("traced"))
        .definition(asl.to_string())
        .role_arn(format!("arn:aws:iam::{account}:role/traced"))
        .send()
        .await
        .unwrap()
        .state_machine_arn;
    let (mut events, runner) = t.run_watched().await;
    let name = random_name("traced");
    let arn = sfn
        .start_execution()
        .state_machine_arn(&state_machine)
        .name(&name)
        .input("{}")
        .send()
        .await
        .unwrap()
        .execution_arn;
    let deadline = Instant::now() + WAIT;
    let output: Value = loop {
        let d = sfn
            .describe_execution()
            .execution_arn(&arn)
            .send()
            .await
            .unwrap();
        if d.status != ExecutionStatus::Running {
            assert_eq!(d.status, ExecutionStatus::Succeeded, "{d:?}");
            break serde_json::from_str(d.output.as_deref().unwrap()).unwrap();
        }
        assert!(Instant::now() < deadline, "still running");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    // The step's output: the task's output, its id and its trace.
    assert_eq!(output["traceId"], trace, "{output}");
    // The downstream got the trace on the HTTP call.
    assert_eq!(output["output"]["traceparent"], trace, "{output}");
    let id = output["taskInstanceId"].as_str().unwrap().to_owned();
    // Every event of the task carries it.
    events
        .wait_for_type("task.completed", Some(&id), WAIT)
        .await
        .unwrap();
    let of_task: Vec<&Value> = events
        .seen()
        .iter()
        .filter(|e| e["detail"]["taskInstanceId"] == id.as_str())
        .collect();
    assert!(of_task.len() >= 3, "{of_task:?}");
    for event in of_task {
        assert_eq!(event["detail"]["traceId"], trace, "{event}");
    }
    runner.stop().await;
}
