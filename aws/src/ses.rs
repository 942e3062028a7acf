//! `Mailer` over Amazon SES (the v1 `SendEmail`, which both local emulators
//! serve): from the deployment's verified sender identity, in its
//! configuration set when it names one.

use async_trait::async_trait;
use aws_sdk_ses::Client;
use aws_sdk_ses::types::{Body, Content, Destination, Message};

use crate::aws_error::classify;
use tel_core::ports::{AwsError, ErrorClass, Mail, Mailer};

pub struct SesMailer {
    client: Client,
    sender: String,
    configuration_set: Option<String>,
}

impl SesMailer {
    pub fn new(client: Client, sender: &str, configuration_set: Option<String>) -> Self {
        Self {
            client,
            sender: sender.to_owned(),
            configuration_set: configuration_set.filter(|c| !c.is_empty()),
        }
    }
}

fn content(text: &str) -> Result<Content, AwsError> {
    Content::builder()
        .data(text)
        .charset("UTF-8")
        .build()
        .map_err(|e| AwsError {
            operation: "SendEmail",
            resource: "a message".into(),
            class: ErrorClass::Refused,
            code: None,
            source: Box::new(e),
        })
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, mail: &Mail) -> Result<String, AwsError> {
        let message = Message::builder()
            .subject(content(&mail.subject)?)
            .body(Body::builder().text(content(&mail.text)?).build())
            .build();
        let out = self
            .client
            .send_email()
            .source(&self.sender)
            .destination(Destination::builder().to_addresses(&mail.to).build())
            .message(message)
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            // The resource names the sender identity, never the recipient.
            .map_err(|e| classify("SendEmail", format!("identity {}", self.sender), e))?;
        Ok(out.message_id)
    }
}
