//! The checkout's addresses for one session, built in one place. Each keeps the buyer's
//! explicit language choice (`?lang=`), but the status endpoint's, which the script polls.

use super::Ctx;
use super::step::Form;
use crate::domain::SessionId;

/// The addresses of one session's pages and forms.
pub struct Links<'a> {
    ctx: &'a Ctx,
    session: &'a SessionId,
}

impl<'a> Links<'a> {
    pub fn new(ctx: &'a Ctx, session: &'a SessionId) -> Links<'a> {
        Links { ctx, session }
    }

    /// `/checkout/{id}`: the page of the current step.
    pub fn page(&self) -> String {
        self.ctx.link(&format!("/checkout/{}", self.session))
    }

    /// `/checkout/{id}/<form>`: where `form` posts (and the card form shows its errors).
    pub fn form(&self, form: Form) -> String {
        self.ctx
            .link(&format!("/checkout/{}/{}", self.session, form.name()))
    }

    /// `/checkout/{id}/routes`: the route chooser after a failed payment.
    pub fn routes(&self) -> String {
        self.ctx.link(&format!("/checkout/{}/routes", self.session))
    }

    /// `/checkout/{id}/provider`: on the way to the provider's own payment page.
    pub fn to_provider(&self) -> String {
        self.ctx
            .link(&format!("/checkout/{}/provider", self.session))
    }

    /// `/checkout/{id}/status`: what the page's script polls.
    pub fn status(&self) -> String {
        format!("/checkout/{}/status", self.session)
    }
}
