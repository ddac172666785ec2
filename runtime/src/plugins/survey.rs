//! Running a `survey-channel` plugin: deliver one survey, parse answers the channel received
//! itself, and read the channel's configuration schema.

use std::sync::Arc;

use super::bindings::survey::{SurveyChannel, SurveyChannelPre};
use super::bindings::survey_types as wit;
use super::engine::{Invocation, LoadedComponent, PluginEngine};
use super::error::PluginError;
use super::host::{Grants, HostState};
use super::limits::Limits;
use super::tiering::reported;
use crate::domain::survey_delivery::{Delivery, InboundAnswer, InboundRequest, Receipt, Recipient};

/// A survey channel ready to run: linked once, instantiated afresh for every call, so one
/// tenant's delivery can never see state left by another's.
pub struct SurveyPlugin {
    engine: Arc<PluginEngine>,
    pre: SurveyChannelPre<HostState>,
}

impl std::fmt::Debug for SurveyPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SurveyPlugin")
    }
}

impl SurveyPlugin {
    /// Links the component; fails when it does not implement the `survey-channel` world.
    pub fn new(
        engine: Arc<PluginEngine>,
        component: &LoadedComponent,
    ) -> Result<SurveyPlugin, PluginError> {
        let pre = engine.link(component, "survey-channel", SurveyChannelPre::new)?;
        Ok(SurveyPlugin { engine, pre })
    }

    /// Delivers one survey. A retryable reported error means the host may try again later.
    pub async fn send(
        &self,
        delivery: &Delivery,
        grants: Arc<Grants>,
        limits: &Limits,
    ) -> Invocation<Receipt> {
        let delivery = to_wit_delivery(delivery);
        let pre = &self.pre;
        self.engine
            .invoke(limits, grants, async |store| {
                let channel: SurveyChannel = pre.instantiate_async(&mut *store).await?;
                let answer = channel.call_send(&mut *store, &delivery).await?;
                Ok(answer.map_err(reported))
            })
            .await
            .and_then(|receipt| {
                limits.check_output(receipt.external_id.as_ref().map_or(0, String::len))?;
                Ok(Receipt {
                    external_id: receipt.external_id,
                })
            })
    }

    /// Parses a request received on the channel's inbound endpoint into answers.
    pub async fn parse_inbound(
        &self,
        request: &InboundRequest,
        grants: Arc<Grants>,
        limits: &Limits,
    ) -> Invocation<Vec<InboundAnswer>> {
        let request = wit::InboundRequest {
            headers: request.headers.clone(),
            body: request.body.clone(),
        };
        let pre = &self.pre;
        self.engine
            .invoke(limits, grants, async |store| {
                let channel: SurveyChannel = pre.instantiate_async(&mut *store).await?;
                let answer = channel.call_parse_inbound(&mut *store, &request).await?;
                Ok(answer.map_err(reported))
            })
            .await
            .and_then(|answers| check_answers(answers, limits))
    }

    /// The JSON Schema of the channel's tenant configuration.
    pub async fn config_schema(
        &self,
        grants: Arc<Grants>,
        limits: &Limits,
    ) -> Invocation<serde_json::Value> {
        let pre = &self.pre;
        self.engine
            .invoke(limits, grants, async |store| {
                let channel: SurveyChannel = pre.instantiate_async(&mut *store).await?;
                Ok(Ok(channel.call_config_schema(&mut *store).await?))
            })
            .await
            .and_then(|schema| limits.check_schema(&schema))
    }
}

fn to_wit_delivery(delivery: &Delivery) -> wit::Delivery {
    let Recipient {
        contact_id,
        name,
        phone,
        email,
        wechat_id,
    } = &delivery.recipient;
    wit::Delivery {
        delivery_id: delivery.delivery_id.clone(),
        recipient: wit::Recipient {
            contact_id: *contact_id,
            name: name.clone(),
            phone: phone.clone(),
            email: email.clone(),
            wechat_id: wechat_id.clone(),
        },
        subject: delivery.subject.clone(),
        body: delivery.body.clone(),
        response_link: delivery.response_link.clone(),
        locale: delivery.locale.clone(),
    }
}

/// The answers must fit the output cap; each is counted by its strings plus a small overhead,
/// so that a flood of empty answers is capped too.
fn check_answers(
    answers: Vec<wit::InboundAnswer>,
    limits: &Limits,
) -> Result<Vec<InboundAnswer>, PluginError> {
    let size: usize = answers
        .iter()
        .map(|a| 8 + a.delivery_id.as_ref().map_or(0, String::len) + a.sender.len() + a.text.len())
        .sum();
    limits.check_output(size)?;
    Ok(answers
        .into_iter()
        .map(|a| InboundAnswer {
            delivery_id: a.delivery_id,
            sender: a.sender,
            text: a.text,
        })
        .collect())
}
