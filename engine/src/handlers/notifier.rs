//! notifier (the notification queue, fed by a bus rule with tel's
//! `task.assigned`, `task.escalated` and `task.reminder` events): tells the
//! people concerned, by email through SES and by a webhook post through a
//! registered integration, as the task's definition says (`manual.notify`)
//! and as each person chose (`/me/notifications`).
//!
//! Each notice (event id, kind, channel, recipient) is claimed in the ledger
//! before it is sent and marked after, so a duplicate delivery sends nothing
//! twice. A failed send is given back and its record redelivered (then
//! dead-lettered, where operators see it); the task itself never waits on
//! a notification.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use tracing::{info, warn};

use crate::TaskEngine;
use crate::batch::{Redeliver, SqsHandler, for_each_record};
use crate::metrics::Unit;
use crate::notices::{Notice, kinds_of};
use tel_core::domain::mapping::ResponseSpec;
use tel_core::domain::notify::WebhookSettings;
use tel_core::domain::{
    Assignee, AssigneeType, DefinitionRef, Implementation, NoticeKind, NotifySettings,
    PayloadField, TaskEvent, TaskInstance, TaskInstanceId,
};
use tel_core::ports::{Admission, Directory, Mail, Mailer, NoticeClaim, RunJob, Runner};

/// A claim this old was left by a sender that died: the next delivery takes
/// it over. Longer than the function's timeout, shorter than the queue's
/// visibility timeout.
const STALE_CLAIM: chrono::Duration = chrono::Duration::seconds(90);
/// How long the ledger remembers a notice: longer than a dead letter is
/// kept (14 days at most), so a late redrive sends nothing twice.
const REMEMBERED: chrono::Duration = chrono::Duration::days(15);
/// A webhook post's time budget.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// One notice sent, as `tel dev` prints it.
#[derive(Debug, Clone, PartialEq)]
pub struct SentNotice {
    pub channel: &'static str,
    pub kind: NoticeKind,
    /// A person's id (email), or the integration (webhook).
    pub to: String,
    pub task_instance_id: String,
    pub subject: String,
}

pub type NoticeObserver = Arc<dyn Fn(&SentNotice) + Send + Sync>;

/// Where the deployment sends notices from and points them to.
#[derive(Debug, Clone, Default)]
pub struct NotifierConfig {
    /// The SES identity mail is sent from; no mail without it.
    pub sender: Option<String>,
    pub configuration_set: Option<String>,
    /// A Cognito user pool to read people and groups from; without it, the
    /// directory registered through the API.
    pub user_pool_id: Option<String>,
    /// The web UI's address (`https://…/ui/`), for links to a task's page.
    pub ui_url: Option<String>,
}

impl NotifierConfig {
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Self {
            sender: var("TEL_NOTIFY_SENDER"),
            configuration_set: var("TEL_NOTIFY_CONFIGURATION_SET"),
            user_pool_id: var("TEL_COGNITO_USER_POOL_ID"),
            ui_url: var("TEL_UI_URL"),
        }
    }
}

pub struct Notifier {
    engine: Arc<TaskEngine>,
    directory: Arc<dyn Directory>,
    mailer: Option<Arc<dyn Mailer>>,
    webhooks: Option<Arc<dyn Runner>>,
    ui_url: Option<String>,
    observer: Option<NoticeObserver>,
}

/// Why one notice was not sent.
#[derive(Debug, thiserror::Error)]
#[error("{channel} {kind} notice to {to} not sent: {reason}")]
struct NotSent {
    channel: &'static str,
    kind: &'static str,
    to: String,
    reason: String,
}

/// A person a notice reaches; `address` is what a group's listing gave
/// (`Some(None)`: listed without one), `None` when it must be looked up.
struct Recipient {
    id: String,
    address: Option<Option<String>>,
}

/// The holder an event names (its assignee, or its previous one).
fn holder(kind: Option<AssigneeType>, id: &Option<String>) -> Option<Assignee> {
    Some(Assignee {
        kind: kind?,
        id: id.clone()?,
    })
}

/// What one kind of notice is about: the event, what it says, the task and
/// its definition.
struct Occasion<'a> {
    event: &'a TaskEvent,
    notice: &'a Notice,
    task: &'a TaskInstance,
    definition: &'a tel_core::domain::TaskDefinition,
}

impl Notifier {
    /// People from the registered directory; no channel until one is given.
    pub fn new(engine: Arc<TaskEngine>) -> Self {
        Self {
            directory: engine.people().clone(),
            engine,
            mailer: None,
            webhooks: None,
            ui_url: None,
            observer: None,
        }
    }

    /// Over AWS, as the deployment configures it: SES mail when a sender is
    /// set, people from Cognito when a user pool is named.
    pub fn aws(engine: Arc<TaskEngine>, sdk: &tel_aws::SdkConfig, config: &NotifierConfig) -> Self {
        let mut notifier = Self::new(engine);
        if let Some(sender) = &config.sender {
            notifier.mailer = Some(Arc::new(tel_aws::clients::mailer(
                sdk,
                sender,
                config.configuration_set.clone(),
            )));
        }
        if let Some(pool) = &config.user_pool_id {
            notifier.directory = Arc::new(tel_aws::clients::cognito_directory(sdk, pool));
        }
        notifier.ui_url = config.ui_url.clone();
        notifier
    }

    pub fn mailer(mut self, mailer: Arc<dyn Mailer>) -> Self {
        self.mailer = Some(mailer);
        self
    }

    pub fn directory(mut self, directory: Arc<dyn Directory>) -> Self {
        self.directory = directory;
        self
    }

    /// Webhook posts go through this runner (the `http` runner).
    pub fn webhooks(mut self, runner: Arc<dyn Runner>) -> Self {
        self.webhooks = Some(runner);
        self
    }

    pub fn ui_url(mut self, url: Option<String>) -> Self {
        self.ui_url = url;
        self
    }

    /// Called with each notice sent (`tel dev` prints them).
    pub fn observe(mut self, observer: NoticeObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    async fn notify(&self, record: SqsMessage) -> Result<(), Redeliver> {
        let body = record.body.as_deref().unwrap_or_default();
        let envelope: Value = serde_json::from_str(body)
            .map_err(|e| Redeliver::Unreadable(format!("not an event: {e}")))?;
        let event: TaskEvent = serde_json::from_value(envelope["detail"].clone())
            .map_err(|e| Redeliver::Unreadable(format!("not a lifecycle event: {e}")))?;
        let kinds = kinds_of(&event);
        if kinds.is_empty() {
            return Ok(());
        }
        tracing::Span::current().record("task_instance_id", event.task_instance_id.as_str());
        let id = TaskInstanceId::parse(&event.task_instance_id)
            .map_err(|e| Redeliver::Unreadable(e.to_string()))?;
        let engine = &self.engine;
        let Some(task) = engine.tasks().get(id).await.map_err(Redeliver::because)? else {
            info!("the task is gone: nothing to tell");
            return Ok(());
        };
        if task.status.is_terminal() {
            info!(status = %task.status, "the task has ended: nothing to tell");
            return Ok(());
        }
        let reference = DefinitionRef::parse(&event.definition).map_err(Redeliver::Unreadable)?;
        let Some(loaded) = engine
            .definitions()
            .resolve(&reference)
            .await
            .map_err(Redeliver::because)?
        else {
            warn!(definition = %event.definition, "no such definition: nothing to tell");
            return Ok(());
        };
        let Some(manual) = &loaded.definition.manual else {
            return Ok(());
        };
        let settings = manual.notify_settings();
        let title = loaded
            .definition
            .title_of(&task)
            .unwrap_or_else(|| event.definition.clone());
        let mut failures = Vec::new();
        let holder_now = holder(event.assignee_type, &event.assignee_id);
        for kind in kinds {
            // A late or repeated event about a holder the task has since left
            // tells nobody "assigned to you" (what happened after, it says itself).
            if kind != NoticeKind::Taken && task.assignee != holder_now {
                info!(
                    kind = kind.as_str(),
                    "the task has moved on since: no notice"
                );
                continue;
            }
            let notice = Notice::new(
                kind,
                &event,
                title.clone(),
                task.due_at,
                self.ui_url.as_deref(),
            );
            let people = self.people(&settings, kind, &event).await?;
            if people.is_empty() {
                continue;
            }
            let occasion = Occasion {
                event: &event,
                notice: &notice,
                task: &task,
                definition: &loaded.definition,
            };
            failures.extend(self.send(&settings, &occasion, &people).await?);
        }
        match failures.first() {
            None => Ok(()),
            Some(first) => {
                for failure in &failures {
                    warn!(%failure, "notice not sent");
                }
                Err(Redeliver::because(first.to_string()))
            }
        }
    }

    /// The people a kind of notice reaches (a group: its members, with the
    /// addresses the directory listed them with).
    async fn people(
        &self,
        settings: &NotifySettings,
        kind: NoticeKind,
        event: &TaskEvent,
    ) -> Result<Vec<Recipient>, Redeliver> {
        let now = holder(event.assignee_type, &event.assignee_id);
        let before = holder(event.previous_assignee_type, &event.previous_assignee_id);
        let mut people: BTreeMap<String, Option<Option<String>>> = BTreeMap::new();
        for rule in settings.recipients(kind) {
            match rule.resolve(now.as_ref(), before.as_ref()) {
                Some(Assignee {
                    kind: AssigneeType::User,
                    id,
                }) => {
                    people.entry(id).or_default();
                }
                Some(Assignee { id, .. }) => {
                    let members = self
                        .directory
                        .members(&id)
                        .await
                        .map_err(Redeliver::because)?;
                    for member in members {
                        people.insert(member.id, Some(member.email));
                    }
                }
                None => {}
            }
        }
        Ok(people
            .into_iter()
            .map(|(id, address)| Recipient { id, address })
            .collect())
    }

    /// Every channel's notices for one kind; what was not sent, each said why.
    async fn send(
        &self,
        settings: &NotifySettings,
        occasion: &Occasion<'_>,
        people: &[Recipient],
    ) -> Result<Vec<NotSent>, Redeliver> {
        let people_store = self.engine.people();
        let mut failures = Vec::new();
        let mut webhook_people = Vec::new();
        for person in people {
            let preferences = people_store
                .preferences(&person.id)
                .await
                .map_err(Redeliver::because)?;
            if preferences.webhook {
                webhook_people.push(person.id.clone());
            }
            if !(settings.email && preferences.email) {
                continue;
            }
            if let Some(mailer) = &self.mailer
                && let Err(e) = self.email(mailer.as_ref(), occasion, person).await
            {
                failures.push(e);
            }
        }
        if let (Some(webhook), Some(runner)) = (&settings.webhook, &self.webhooks)
            && !webhook_people.is_empty()
            && let Err(e) = self
                .post(runner.as_ref(), webhook, occasion, &webhook_people)
                .await
        {
            failures.push(e);
        }
        Ok(failures)
    }

    async fn email(
        &self,
        mailer: &dyn Mailer,
        occasion: &Occasion<'_>,
        person: &Recipient,
    ) -> Result<(), NotSent> {
        let (event, notice) = (occasion.event, occasion.notice);
        let not_sent = |reason: String| NotSent {
            channel: "email",
            kind: notice.kind.as_str(),
            to: person.id.clone(),
            reason,
        };
        let address = match &person.address {
            Some(listed) => listed.clone(),
            None => self
                .directory
                .person(&person.id)
                .await
                .map_err(|e| not_sent(e.to_string()))?
                .and_then(|p| p.email),
        };
        let Some(address) = address else {
            info!(
                person = person.id,
                "no (verified) address for this person: no mail"
            );
            self.count("email", notice.kind, "NotificationsSkipped");
            return Ok(());
        };
        let mail = Mail {
            to: address,
            subject: notice.subject(),
            text: notice.text(),
        };
        let key = format!(
            "{}/{}/email/{}",
            event.event_id,
            notice.kind.as_str(),
            person.id
        );
        self.once(&key, "email", notice, &person.id, || async {
            mailer
                .send(&mail)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(not_sent)
    }

    async fn post(
        &self,
        runner: &dyn Runner,
        webhook: &WebhookSettings,
        occasion: &Occasion<'_>,
        people: &[String],
    ) -> Result<(), NotSent> {
        let Occasion {
            event,
            notice,
            task,
            definition,
        } = *occasion;
        // The post is an HTTP integration call of its own: the definition's
        // webhook request over the notice, through the integration's
        // secrets, SSRF guard and breaker.
        let key = format!(
            "{}/{}/webhook/{}",
            event.event_id,
            notice.kind.as_str(),
            webhook.integration
        );
        let mut carrier = task.clone();
        // The call's Idempotency-Key is the carrier's id: one per notice, the
        // same on every retry of it (never the task's, shared by its notices).
        carrier.task_instance_id = TaskInstanceId::derived(&key);
        carrier.set_payload(PayloadField::Input, notice.webhook_input(people), None);
        carrier.set_payload(PayloadField::Context, Value::Null, None);
        let mut posting = definition.clone();
        posting.implementation = Some(Implementation::Http {
            integration: webhook.integration.clone(),
            request: webhook.request.clone(),
            response: ResponseSpec::default(),
        });
        let job = || RunJob {
            task: &carrier,
            definition: &posting,
            timeout: WEBHOOK_TIMEOUT,
        };
        self.once(&key, "webhook", notice, &webhook.integration, || async {
            match runner.admit(&job()).await {
                Ok(Admission::Go { .. }) => {}
                Ok(Admission::Wait { reason, .. }) => return Err(reason),
                Err(e) => return Err(e.error.to_string()),
            }
            runner
                .run(job())
                .await
                .map(|_| ())
                .map_err(|e| e.error.to_string())
        })
        .await
        .map_err(|reason| NotSent {
            channel: "webhook",
            kind: notice.kind.as_str(),
            to: webhook.integration.clone(),
            reason,
        })
    }

    /// Sends under a claim in the ledger: a notice already sent is skipped,
    /// one being sent by another delivery waits for the next; a failed send
    /// gives its claim back.
    async fn once<F, Fut>(
        &self,
        key: &str,
        channel: &'static str,
        notice: &Notice,
        to: &str,
        send: F,
    ) -> Result<(), String>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<(), String>>,
    {
        let ledger = self.engine.notices();
        let now = self.engine.now();
        match ledger
            .claim(key, now, now - STALE_CLAIM, now + REMEMBERED)
            .await
            .map_err(|e| e.to_string())?
        {
            NoticeClaim::Sent => return Ok(()),
            NoticeClaim::Busy => return Err("another delivery is sending it".into()),
            NoticeClaim::Claimed => {}
        }
        if let Err(reason) = send().await {
            self.count(channel, notice.kind, "NotificationsFailed");
            // Given back, the next delivery sends it; were this to fail, the
            // claim goes stale and is taken over all the same.
            let _ = ledger.release(key, now).await;
            return Err(reason);
        }
        ledger
            .mark_sent(key, now)
            .await
            .map_err(|e| e.to_string())?;
        self.count(channel, notice.kind, "NotificationsSent");
        info!(channel, kind = notice.kind.as_str(), to, "notice sent");
        if let Some(observer) = &self.observer {
            observer(&SentNotice {
                channel,
                kind: notice.kind,
                to: to.to_owned(),
                task_instance_id: notice.task_instance_id.clone(),
                subject: notice.subject(),
            });
        }
        Ok(())
    }

    fn count(&self, channel: &str, kind: NoticeKind, metric: &str) {
        self.engine.metrics().put(
            &[
                ("Function", "notifier"),
                ("Channel", channel),
                ("Kind", kind.as_str()),
            ],
            &[(metric, 1.0, Unit::Count)],
        );
    }
}

#[async_trait]
impl SqsHandler for Notifier {
    fn name(&self) -> &'static str {
        "notifier"
    }

    async fn handle(
        &self,
        event: LambdaEvent<SqsEvent>,
    ) -> Result<SqsBatchResponse, lambda_runtime::Error> {
        Ok(
            for_each_record("notifier", &self.engine, event.payload, |record| {
                self.notify(record)
            })
            .await,
        )
    }
}
