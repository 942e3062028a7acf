//! `Directory` over an Amazon Cognito user pool: a person is a user, known
//! by their `sub` (what tokens name and tasks are assigned to; `AdminGetUser`
//! takes it where the username is no alias attribute); their address is the
//! `email` attribute once verified (a user may change it themselves: an
//! unconfirmed address gets no task mail); a group's members are the pool
//! group's users, their `sub`s and addresses from the listing itself.

use async_trait::async_trait;
use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::operation::admin_get_user::AdminGetUserError;
use aws_sdk_cognitoidentityprovider::types::AttributeType;

use crate::aws_error::classify;
use tel_core::ports::{Directory, Person, StoreError};

pub struct CognitoDirectory {
    client: Client,
    user_pool_id: String,
}

impl CognitoDirectory {
    pub fn new(client: Client, user_pool_id: &str) -> Self {
        Self {
            client,
            user_pool_id: user_pool_id.to_owned(),
        }
    }

    fn resource(&self) -> String {
        format!("user pool {}", self.user_pool_id)
    }
}

#[async_trait]
impl Directory for CognitoDirectory {
    async fn person(&self, id: &str) -> Result<Option<Person>, StoreError> {
        let out = match self
            .client
            .admin_get_user()
            .user_pool_id(&self.user_pool_id)
            .username(id)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e)
                if e.as_service_error()
                    .is_some_and(AdminGetUserError::is_user_not_found_exception) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(classify("AdminGetUser", self.resource(), e).into()),
        };
        if !out.enabled {
            return Ok(None);
        }
        Ok(Some(Person {
            id: id.to_owned(),
            email: verified_email(out.user_attributes()),
        }))
    }

    async fn members(&self, group: &str) -> Result<Vec<Person>, StoreError> {
        let mut members = Vec::new();
        let mut next = None;
        loop {
            let out = self
                .client
                .list_users_in_group()
                .user_pool_id(&self.user_pool_id)
                .group_name(group)
                .set_next_token(next)
                .send()
                .await;
            let out = match out {
                Ok(out) => out,
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_resource_not_found_exception()) =>
                {
                    return Ok(Vec::new());
                }
                Err(e) => return Err(classify("ListUsersInGroup", self.resource(), e).into()),
            };
            members.extend(out.users().iter().filter(|u| u.enabled).filter_map(|u| {
                let id = attribute(u.attributes(), "sub").or(u.username())?;
                Some(Person {
                    id: id.to_owned(),
                    email: verified_email(u.attributes()),
                })
            }));
            next = out.next_token;
            if next.is_none() {
                return Ok(members);
            }
        }
    }
}

fn attribute<'a>(attributes: &'a [AttributeType], name: &str) -> Option<&'a str> {
    attributes
        .iter()
        .find(|a| a.name() == name)
        .and_then(|a| a.value())
}

/// The `email` attribute, if Cognito says it was verified.
fn verified_email(attributes: &[AttributeType]) -> Option<String> {
    (attribute(attributes, "email_verified") == Some("true"))
        .then(|| attribute(attributes, "email").map(str::to_owned))
        .flatten()
}
