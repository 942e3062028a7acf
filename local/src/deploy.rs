//! The shipped shape on one machine: `infra/template.yaml` deployed through
//! the emulator's CloudFormation (LocalStack's, with the SAM transform), its
//! functions' real `bootstrap` binaries run by LocalStack's Lambda (our
//! host-process executor) behind the template's own event source mappings,
//! schedules and rules. What `sam package` does for code and definition
//! locations is done here: each function's code is a host directory
//! (LocalStack's `hot-reload` location: no zip), the state machine's
//! definition is inlined.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use aws_config::SdkConfig;
use aws_sdk_cloudformation::types::{Capability, Parameter, StackStatus};
use serde_yaml::{Mapping, Value as Yaml};

use crate::provision::{LocalStack, QueueInfo, RuleInfo};

/// The template's functions, by binary (the name after the stack's).
pub const FUNCTION_BINARIES: [&str; 8] = [
    "router",
    "validator",
    "executor",
    "manual-assign",
    "notifier",
    "timeout-sweeper",
    "publisher",
    "api",
];

/// LocalStack runs a function straight from a host directory whose code
/// location names this bucket (`BUCKET_MARKER_LOCAL`).
pub const HOT_RELOAD_BUCKET: &str = "hot-reload";

const SERVERLESS_FUNCTION: &str = "AWS::Serverless::Function";
const SERVERLESS_STATE_MACHINE: &str = "AWS::Serverless::StateMachine";

/// One deployment: a stack name, where the functions' binaries are, the
/// template's parameters.
pub struct Deployment {
    pub stack_name: String,
    /// The directory holding the functions' host binaries (`target/debug`).
    pub binaries: PathBuf,
    /// Where each function's code directory is made.
    pub code_root: PathBuf,
    /// The template's directory (locations in it are relative to it).
    pub template_dir: PathBuf,
    pub parameters: BTreeMap<String, String>,
}

/// The binary a function runs: its name after the stack's (`${AWS::StackName}-router`).
fn binary_of(properties: &Yaml) -> Option<String> {
    let name = match &properties["FunctionName"] {
        Yaml::Tagged(tagged) => tagged.value.as_str()?.to_owned(),
        other => other.as_str()?.to_owned(),
    };
    name.strip_prefix("${AWS::StackName}-").map(str::to_owned)
}

impl Deployment {
    /// The template as this deployment sends it: code from host directories,
    /// definitions inline. Returns it and the binaries its functions run.
    pub fn local_template(&self, text: &str) -> Result<(String, Vec<String>)> {
        let mut doc: Yaml = serde_yaml::from_str(text).context("the template is not YAML")?;
        if let Some(globals) = doc
            .get_mut("Globals")
            .and_then(|g| g.get_mut("Function"))
            .and_then(Yaml::as_mapping_mut)
        {
            globals.remove("CodeUri");
        }
        let mut binaries = Vec::new();
        let resources = doc
            .get_mut("Resources")
            .and_then(Yaml::as_mapping_mut)
            .context("the template has no Resources")?;
        for (id, resource) in resources.iter_mut() {
            let kind = resource["Type"].as_str().unwrap_or_default().to_owned();
            let Some(resource) = resource.as_mapping_mut() else {
                continue;
            };
            if kind == SERVERLESS_FUNCTION {
                let properties = resource
                    .get_mut("Properties")
                    .and_then(Yaml::as_mapping_mut)
                    .with_context(|| format!("{id:?} has no Properties"))?;
                let binary = binary_of(&Yaml::Mapping(properties.clone())).with_context(|| {
                    format!("{id:?}: FunctionName is not ${{AWS::StackName}}-<binary>")
                })?;
                let dir = self.code_root.join(&binary);
                let mut code = Mapping::new();
                code.insert("Bucket".into(), HOT_RELOAD_BUCKET.into());
                code.insert("Key".into(), dir.to_string_lossy().into_owned().into());
                properties.insert("CodeUri".into(), Yaml::Mapping(code));
                resource.remove("Metadata");
                binaries.push(binary);
            } else if kind == SERVERLESS_STATE_MACHINE {
                let properties = resource
                    .get_mut("Properties")
                    .and_then(Yaml::as_mapping_mut)
                    .with_context(|| format!("{id:?} has no Properties"))?;
                if let Some(uri) = properties.remove("DefinitionUri") {
                    let file = self
                        .template_dir
                        .join(uri.as_str().context("DefinitionUri must be a path")?);
                    let definition: Yaml = serde_yaml::from_str(
                        &std::fs::read_to_string(&file)
                            .with_context(|| format!("reading {}", file.display()))?,
                    )?;
                    properties.insert("Definition".into(), definition);
                }
            }
        }
        Ok((serde_yaml::to_string(&doc)?, binaries))
    }

    /// Each function's code directory: a `bootstrap` that is its host binary.
    pub fn prepare_code(&self, binaries: &[String]) -> Result<()> {
        for binary in binaries {
            let built = self.binaries.join(binary);
            anyhow::ensure!(
                built.is_file(),
                "{} is not built (cargo build --workspace --bins)",
                built.display()
            );
            let dir = self.code_root.join(binary);
            std::fs::create_dir_all(&dir)?;
            let bootstrap = dir.join("bootstrap");
            let _ = std::fs::remove_file(&bootstrap);
            std::os::unix::fs::symlink(built.canonicalize()?, &bootstrap)
                .with_context(|| format!("linking {}", bootstrap.display()))?;
        }
        Ok(())
    }

    /// Creates the stack, or updates it when it exists, and waits until it is
    /// done; on failure, says which resources failed and why.
    pub async fn deploy(&self, sdk: &SdkConfig, template: &str) -> Result<Duration> {
        let started = Instant::now();
        let cfn = aws_sdk_cloudformation::Client::new(sdk);
        let parameters: Vec<Parameter> = self
            .parameters
            .iter()
            .map(|(k, v)| {
                Parameter::builder()
                    .parameter_key(k)
                    .parameter_value(v)
                    .build()
            })
            .collect();
        let capabilities = [
            Capability::CapabilityIam,
            Capability::CapabilityNamedIam,
            Capability::CapabilityAutoExpand,
        ];
        let template_url = self.upload(sdk, template).await?;
        let exists = cfn
            .describe_stacks()
            .stack_name(&self.stack_name)
            .send()
            .await
            .ok()
            .and_then(|out| out.stacks.and_then(|s| s.into_iter().next()))
            .is_some_and(|s| s.stack_status() != Some(&StackStatus::DeleteComplete));
        if exists {
            let update = cfn
                .update_stack()
                .stack_name(&self.stack_name)
                .template_url(&template_url)
                .set_parameters(Some(parameters))
                .set_capabilities(Some(capabilities.to_vec()))
                .send()
                .await;
            if let Err(e) = update {
                let text = format!("{}", aws_sdk_cloudformation::error::DisplayErrorContext(&e));
                if text.contains("No updates are to be performed") {
                    return Ok(started.elapsed());
                }
                return Err(e).context("UpdateStack");
            }
        } else {
            cfn.create_stack()
                .stack_name(&self.stack_name)
                .template_url(&template_url)
                .set_parameters(Some(parameters))
                .set_capabilities(Some(capabilities.to_vec()))
                .send()
                .await
                .context("CreateStack")?;
        }
        self.wait(&cfn).await?;
        Ok(started.elapsed())
    }

    /// Puts the template in a bucket of the deployment's, as `sam deploy`
    /// does (a template body is limited to 51,200 bytes); its URL.
    async fn upload(&self, sdk: &SdkConfig, template: &str) -> Result<String> {
        let endpoint = sdk
            .endpoint_url()
            .context("a local deploy needs AWS_ENDPOINT_URL (the emulator)")?
            .trim_end_matches('/')
            .to_owned();
        let s3 = tel_aws::s3::client(sdk);
        let bucket = format!("{}-deploy", self.stack_name);
        if s3.head_bucket().bucket(&bucket).send().await.is_err() {
            s3.create_bucket()
                .bucket(&bucket)
                .send()
                .await
                .with_context(|| format!("creating the bucket {bucket}"))?;
        }
        let key = "template.yaml";
        s3.put_object()
            .bucket(&bucket)
            .key(key)
            .body(template.as_bytes().to_vec().into())
            .send()
            .await
            .context("uploading the template")?;
        Ok(format!("{endpoint}/{bucket}/{key}"))
    }

    async fn wait(&self, cfn: &aws_sdk_cloudformation::Client) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            let stack = cfn
                .describe_stacks()
                .stack_name(&self.stack_name)
                .send()
                .await?
                .stacks
                .and_then(|s| s.into_iter().next())
                .context("the stack is gone")?;
            let status = stack.stack_status().cloned();
            let text = status.as_ref().map(|s| s.as_str()).unwrap_or_default();
            if text.ends_with("_COMPLETE") && !text.contains("ROLLBACK") {
                return Ok(());
            }
            if text.ends_with("_FAILED") || text.contains("ROLLBACK") {
                bail!(
                    "{} is {text}: {}",
                    self.stack_name,
                    self.failures(cfn).await
                );
            }
            if Instant::now() > deadline {
                bail!("{} is still {text} after 10 minutes", self.stack_name);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// The reasons of the stack's failed resources.
    async fn failures(&self, cfn: &aws_sdk_cloudformation::Client) -> String {
        let Ok(out) = cfn
            .describe_stack_events()
            .stack_name(&self.stack_name)
            .send()
            .await
        else {
            return "no events".to_owned();
        };
        let reasons: Vec<String> = out
            .stack_events()
            .iter()
            .filter(|e| {
                e.resource_status()
                    .is_some_and(|s| s.as_str().ends_with("_FAILED"))
            })
            .map(|e| {
                format!(
                    "{}: {}",
                    e.logical_resource_id().unwrap_or_default(),
                    e.resource_status_reason().unwrap_or_default()
                )
            })
            .collect();
        reasons.join("; ")
    }

    /// Deletes the stack and waits until it is gone.
    pub async fn delete(sdk: &SdkConfig, stack_name: &str) -> Result<()> {
        let cfn = aws_sdk_cloudformation::Client::new(sdk);
        cfn.delete_stack()
            .stack_name(stack_name)
            .send()
            .await
            .context("DeleteStack")?;
        let deadline = Instant::now() + Duration::from_secs(300);
        while Instant::now() < deadline {
            let status = cfn
                .describe_stacks()
                .stack_name(stack_name)
                .send()
                .await
                .ok()
                .and_then(|out| out.stacks.and_then(|s| s.into_iter().next()))
                .and_then(|s| s.stack_status().cloned());
            match status {
                None | Some(StackStatus::DeleteComplete) => return Ok(()),
                Some(StackStatus::DeleteFailed) => bail!("{stack_name} could not be deleted"),
                _ => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
        bail!("{stack_name} is still being deleted after 5 minutes")
    }
}

/// A deployed stack as the local tools see one: its table, bus, bucket,
/// queues and rules, read from the stack's resources, in the shape the
/// provisioned stacks have (so the CLI, the console and the tests read both).
pub async fn deployed(sdk: &SdkConfig, stack_name: &str) -> Result<LocalStack> {
    let cfn = aws_sdk_cloudformation::Client::new(sdk);
    let stack = cfn
        .describe_stacks()
        .stack_name(stack_name)
        .send()
        .await
        .with_context(|| format!("no stack {stack_name}"))?
        .stacks
        .and_then(|s| s.into_iter().next())
        .with_context(|| format!("no stack {stack_name}"))?;
    let parameters: BTreeMap<String, String> = stack
        .parameters()
        .iter()
        .filter_map(|p| {
            Some((
                p.parameter_key()?.to_owned(),
                p.parameter_value().unwrap_or_default().to_owned(),
            ))
        })
        .collect();
    let mut resources = Vec::new();
    let mut token = None;
    loop {
        let page = cfn
            .list_stack_resources()
            .stack_name(stack_name)
            .set_next_token(token)
            .send()
            .await?;
        resources.extend(page.stack_resource_summaries().iter().cloned());
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    let region = sdk
        .region()
        .map(|r| r.to_string())
        .unwrap_or_else(|| "us-east-1".into());
    let mut out = LocalStack::empty(stack_name, &region, parameters);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    for resource in resources {
        let (Some(id), Some(kind), Some(physical)) = (
            resource.logical_resource_id(),
            resource.resource_type(),
            resource.physical_resource_id(),
        ) else {
            continue;
        };
        match kind {
            "AWS::DynamoDB::Table" => out.table_name = physical.to_owned(),
            "AWS::Events::EventBus" => out.event_bus_name = physical.to_owned(),
            "AWS::S3::Bucket" => out.payload_bucket = Some(physical.to_owned()),
            "AWS::SQS::Queue" => {
                let arn = sqs
                    .get_queue_attributes()
                    .queue_url(physical)
                    .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                    .send()
                    .await
                    .ok()
                    .and_then(|a| a.attributes)
                    .and_then(|mut a| a.remove(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
                    .unwrap_or_default();
                let name = physical.rsplit('/').next().unwrap_or(physical).to_owned();
                out.queues.insert(
                    id.to_owned(),
                    QueueInfo {
                        name,
                        url: physical.to_owned(),
                        arn,
                    },
                );
            }
            "AWS::Events::Rule" => out.rules.push(RuleInfo {
                name: physical.rsplit('|').next().unwrap_or(physical).to_owned(),
                event_bus_name: String::new(),
                target_ids: Vec::new(),
            }),
            other => out.skipped.push(format!("{id} ({other})")),
        }
    }
    anyhow::ensure!(
        !out.table_name.is_empty() && !out.event_bus_name.is_empty(),
        "{stack_name} has no table or bus: is it tel's template?"
    );
    Ok(out)
}

/// Deletes what a stack's deletion keeps (`DeletionPolicy: Retain`): the
/// table, and the payload bucket with every object in it.
pub async fn delete_retained(sdk: &SdkConfig, stack: &LocalStack) -> Result<()> {
    let _ = aws_sdk_dynamodb::Client::new(sdk)
        .delete_table()
        .table_name(&stack.table_name)
        .send()
        .await;
    let Some(bucket) = &stack.payload_bucket else {
        return Ok(());
    };
    let s3 = tel_aws::s3::client(sdk);
    loop {
        let listed = s3.list_objects_v2().bucket(bucket).send().await?;
        let keys: Vec<String> = listed
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect();
        if keys.is_empty() {
            break;
        }
        for key in keys {
            s3.delete_object().bucket(bucket).key(key).send().await?;
        }
    }
    s3.delete_bucket()
        .bucket(bucket)
        .send()
        .await
        .with_context(|| format!("deleting {bucket}"))?;
    Ok(())
}

/// `<repo>/target/<profile>` (or `CARGO_TARGET_DIR`'s).
pub fn binaries_dir(root: &Path, release: bool) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    target.join(if release { "release" } else { "debug" })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment() -> Deployment {
        Deployment {
            stack_name: "s".into(),
            binaries: "/bin-dir".into(),
            code_root: "/code".into(),
            template_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/../infra").into(),
            parameters: BTreeMap::new(),
        }
    }

    #[test]
    fn every_function_runs_from_its_own_directory_and_definitions_are_inline() {
        let (text, binaries) = deployment()
            .local_template(crate::template::TEMPLATE_YAML)
            .unwrap();
        assert_eq!(binaries, FUNCTION_BINARIES);
        let doc: Yaml = serde_yaml::from_str(&text).unwrap();
        assert!(doc["Globals"]["Function"].get("CodeUri").is_none());
        let router = &doc["Resources"]["RouterFunction"];
        assert_eq!(router["Properties"]["CodeUri"]["Bucket"], "hot-reload");
        assert_eq!(router["Properties"]["CodeUri"]["Key"], "/code/router");
        assert!(router.get("Metadata").is_none());
        let machine = &doc["Resources"]["OrderApprovalStateMachine"]["Properties"];
        assert!(machine.get("DefinitionUri").is_none());
        assert!(machine["Definition"]["States"].is_mapping());
        // The intrinsics survive the round trip.
        assert!(text.contains("!Ref") && text.contains("!GetAtt"));
    }
}
