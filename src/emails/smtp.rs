//! The SMTP connection, through `lettre` with rustls (ring), to the server an `smtp_url`
//! names ([`SmtpTarget`]).

use std::time::Duration;

use anyhow::Context;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::Composed;
use crate::domain::smtp::{Security, SmtpTarget};

/// Why a message was not sent.
pub struct Failure {
    pub reply_code: Option<i64>,
    /// A 5xx answer: trying again will not help.
    pub permanent: bool,
    pub message: String,
}

/// Sends e-mails through one SMTP server.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The domain of the `Message-ID`s: the sender's.
    domain: String,
}

impl Mailer {
    pub fn new(target: &SmtpTarget, from: &str, timeout: Duration) -> anyhow::Result<Mailer> {
        let from: Mailbox = from.parse().with_context(|| {
            format!("smtp_from {from:?} is not an address such as \"Shop <receipts@shop.example>\"")
        })?;
        let builder = match target.security {
            Security::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&target.host)
                .context("setting up TLS for the SMTP server")?,
            Security::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&target.host)
                    .context("setting up STARTTLS for the SMTP server")?
            }
            Security::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&target.host),
        };
        let mut builder = builder.port(target.port).timeout(Some(timeout));
        if let (Some(user), Some(password)) = (&target.user, &target.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Mailer {
            transport: builder.build(),
            domain: from.email.domain().to_owned(),
            from,
        })
    }

    /// Sends `composed` to `to` as e-mail `id` (its `Message-ID`, the same on every try, so a
    /// message sent twice after a lost answer can be told apart). The server's reply code on
    /// success.
    pub async fn send(
        &self,
        id: &str,
        to: &str,
        composed: &Composed,
    ) -> Result<Option<i64>, Failure> {
        let to: Mailbox = to.parse().map_err(|_| Failure {
            reply_code: None,
            permanent: true,
            message: "the recipient is not an e-mail address".into(),
        })?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(composed.subject.clone())
            .message_id(Some(format!("<{id}@{}>", self.domain)))
            .multipart(MultiPart::alternative_plain_html(
                composed.text.clone(),
                composed.html.clone(),
            ))
            .map_err(|e| Failure {
                reply_code: None,
                permanent: true,
                message: format!("the message could not be built: {e}"),
            })?;
        match self.transport.send(message).await {
            Ok(response) => Ok(response.code().to_string().parse().ok()),
            Err(e) => Err(Failure {
                reply_code: e.status().and_then(|c| c.to_string().parse().ok()),
                permanent: e.is_permanent(),
                message: e.to_string(),
            }),
        }
    }
}
