//! One page per [`Step`], each built by its own function beside its template's struct;
//! [`render_step`] picks the builder. Templates receive named fields only (their header
//! comments list them), never tuples.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;

use super::chain::ChainStatus;
use super::form::{bound_to, issue_token};
use super::links::Links;
use super::qr::qr_svg;
use super::step::{Form, Step, Transfer, page_state_key};
use super::{Ctx, Expiry, Layout, MessagePage, Summary, render};
use crate::db::payments::PaymentRow;
use crate::db::sessions::SessionView;
use crate::domain::onchain::{ChainAddress, TokenUnits, payment_uri};
use crate::domain::payment_route::provider_hosts_page;
use crate::domain::url::return_url;
use crate::domain::{Environment, ProviderState, RouteKind, SessionStatus};
use crate::lifecycle::hand_off::redirect_url;
use crate::providers::Instructions;
use crate::providers::sandbox::TEST_CARDS;
use crate::state::AppState;

/// Seconds between refreshes of a waiting page without JavaScript.
const REFRESH_SECONDS: u32 = 5;

/// How a step is shown beyond the step itself.
#[derive(Default)]
pub struct Shown {
    /// The card form again, with what was wrong with the card just submitted.
    pub card_errors: Option<CardErrors>,
    /// Paid, and the merchant is being told before the buyer goes back: no return yet.
    pub confirming: bool,
    /// Failed, and the buyer asked to go back: the page sends them on at once.
    pub leaving: bool,
    /// Where a payment on chain stands (what the scanner recorded), for its waiting page.
    pub chain: Option<ChainStatus>,
}

/// The page of `step` for this session and its latest payment.
pub fn render_step(
    state: &AppState,
    ctx: &Ctx,
    view: &SessionView,
    payment: Option<&PaymentRow>,
    step: Step,
    shown: Shown,
) -> HttpResponse {
    let page = StepPage {
        state,
        ctx,
        view,
        payment,
        links: Links::new(ctx, &view.session.id),
        chain: shown.chain.as_ref(),
    };
    match step {
        Step::Choose { retry } => choose(&page, retry),
        Step::AtProvider => choose(&page, false),
        Step::Card { retry } => card(&page, retry, shown.card_errors),
        Step::Challenge => challenge(&page),
        Step::Transfer(transfer) => instructions(&page, transfer),
        Step::Waiting => waiting(&page),
        Step::Paid if shown.confirming => result(&page, Outcome::PaidConfirming),
        Step::Paid => result(&page, Outcome::Paid),
        Step::Failed if shown.leaving => result(&page, Outcome::FailedLeaving),
        Step::Failed => result(&page, Outcome::Failed),
        Step::Expired => expired(&page),
    }
}

/// What every builder works from.
struct StepPage<'a> {
    state: &'a AppState,
    ctx: &'a Ctx,
    view: &'a SessionView,
    payment: Option<&'a PaymentRow>,
    links: Links<'a>,
    chain: Option<&'a ChainStatus>,
}

impl StepPage<'_> {
    /// The layout with the title `key` names.
    fn layout(&self, key: &str) -> Layout {
        self.ctx
            .layout(self.state, &self.ctx.t.get(key), &self.view.merchant_name)
    }

    /// The layout of a page that waits for something: it follows the status endpoint (with
    /// JavaScript) or refreshes itself (without).
    fn waiting_layout(&self, key: &str) -> Layout {
        let mut page = self.layout(key);
        page.status_url = Some(self.links.status());
        page.state_key = page_state_key(&self.view.session, self.payment, self.chain, now());
        page.refresh = Some(REFRESH_SECONDS.to_string());
        page
    }

    /// A token for `form`, bound to this session and the payment the page shows.
    fn token(&self, form: Form) -> String {
        issue_token(
            &self.state.form_secret,
            self.view.session.id.as_str(),
            &bound_to(form, self.payment),
            now() / 1000,
        )
    }

    /// The summary at the top; `with_payment` shows the chosen route's fee and total.
    fn summary(&self, with_payment: bool) -> Summary {
        let (ctx, session) = (self.ctx, &self.view.session);
        let payment = self.payment.filter(|_| with_payment);
        let route = payment.and_then(|p| {
            self.state
                .settings
                .routes
                .iter()
                .find(|r| r.id == p.route_id)
        });
        let breakdown = payment.filter(|p| p.buyer_fee_cents > 0).map(|p| {
            ctx.t.with2(
                "layout.breakdown",
                ("amount", &ctx.money(p.amount_cents)),
                ("fee", &ctx.money(p.buyer_fee_cents)),
            )
        });
        Summary {
            product: session.product.clone(),
            headline: ctx.money(payment.map_or(session.amount_cents, |p| p.total_cents)),
            breakdown,
            amount: ctx.money(session.amount_cents),
            route_label: route.map(|r| r.label_in(ctx.t.code).to_owned()),
            fee: payment.map(|p| ctx.money(p.buyer_fee_cents)),
            total: payment.map(|p| ctx.money(p.total_cents)),
            sandbox: session.environment == Environment::Sandbox,
            expires: payment.is_none().then(|| Expiry {
                text: ctx.t.open_for(session.expires_at - now()),
                iso: crate::domain::time::iso_seconds(session.expires_at),
                template: ctx.t.get("layout.open_until").into_owned(),
            }),
        }
    }

    /// After a failed payment: why, and the form that gives up and goes back to the merchant.
    /// `field` is where the reason's link moves to.
    fn retry(&self, field: String) -> Retry {
        let ctx = self.ctx;
        let mut reason = failure_reason(ctx, self.payment);
        if self.view.cards_closed {
            reason = format!("{reason} {}", ctx.t.get("retry.cards_closed"));
        }
        Retry {
            reason,
            field,
            leave_action: self.links.form(Form::Leave),
            leave_token: self.token(Form::Leave),
            leave_label: match &self.view.session.redirect_url {
                Some(_) => ctx.t.with(
                    "result.return_to",
                    "merchant",
                    &ctx.merchant_name(&self.view.merchant_name),
                ),
                None => ctx.t.get("retry.cancel").into_owned(),
            },
        }
    }
}

fn now() -> i64 {
    crate::domain::time::now_ms()
}

/// What the buyer sees after a failed payment while the session is still open: why it
/// failed, and a form that gives up and goes back to the merchant.
pub struct Retry {
    pub reason: String,
    /// The field the reason's link moves to (the card number, or the route that failed).
    pub field: String,
    pub leave_action: String,
    pub leave_token: String,
    pub leave_label: String,
}

/// One route as the buyer sees it: what it costs on top of the price.
pub struct RouteChoice {
    pub id: String,
    pub label: String,
    pub provider: String,
    pub eta: String,
    /// "Fee $3.72 · Total $119.72", in the page's language.
    pub fees: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "checkout.html")]
pub struct CheckoutPage {
    pub page: Layout,
    pub summary: Summary,
    pub routes: Vec<RouteChoice>,
    pub action: String,
    pub token: String,
    /// After a failed payment: why, and the way back to the merchant.
    pub retry: Option<Retry>,
    /// Back from the provider's own page without paying: the way back there.
    pub resume: Option<Resume>,
}

/// The way back to a provider's own payment page the buyer left unfinished.
pub struct Resume {
    /// What happened, in words.
    pub text: String,
    /// The provider's page.
    pub href: String,
    /// The link's words.
    pub label: String,
}

/// The route chooser: first, or (`retry`) again after a failed payment, with the route that
/// failed preselected.
fn choose(page: &StepPage<'_>, retry: bool) -> HttpResponse {
    let (state, ctx, session) = (page.state, page.ctx, &page.view.session);
    let failed = page.payment.filter(|_| retry);
    let selected = failed
        .map(|p| p.route_id.as_str())
        .or(session.route_id.as_deref());
    let resume = page
        .payment
        .filter(|p| p.provider_state == ProviderState::Redirected)
        .and_then(|p| {
            let href = redirect_url(&p.provider_data)?;
            let provider = provider_name(state, p);
            Some(Resume {
                text: ctx.t.with("checkout.at_provider", "provider", &provider),
                href,
                label: ctx.t.with("checkout.resume", "provider", &provider),
            })
        });
    let routes = state
        .settings
        .routes
        .iter()
        .filter(|r| {
            r.offered_in(session.environment)
                && state.providers.get(&r.integration).is_some()
                && !(page.view.cards_closed && r.kind == RouteKind::Card)
        })
        .map(|r| {
            let fees = r.fees(session.amount_cents);
            RouteChoice {
                id: r.id.clone(),
                label: r.label_in(ctx.t.code).to_owned(),
                provider: r.provider.clone(),
                eta: r.eta_in(ctx.t.code).to_owned(),
                fees: ctx.t.with2(
                    "checkout.route_fees",
                    ("fee", &ctx.money(fees.buyer_fee)),
                    ("total", &ctx.money(fees.total)),
                ),
                selected: selected == Some(r.id.as_str()),
            }
        })
        .collect();
    let mut layout = ctx.layout(state, &session.product, &page.view.merchant_name);
    if retry {
        layout.title = ctx.t.get("retry.title").into_owned();
    }
    render(
        StatusCode::OK,
        &CheckoutPage {
            page: layout,
            summary: page.summary(false),
            routes,
            action: page.links.form(Form::Start),
            token: page.token(Form::Start),
            retry: retry.then(|| page.retry(format!("route-{}", selected.unwrap_or_default()))),
            resume,
        },
    )
}

/// One problem with the card just submitted.
pub struct FieldError {
    /// The form field: `number`, `expiry`, `cvc` or `name`.
    pub field: &'static str,
    /// The catalog key of the message.
    pub message_key: &'static str,
}

/// What the card form sends back after an error (never the number or the security code).
#[derive(Default)]
pub struct CardValues {
    pub expiry: String,
    pub name: String,
}

/// The card just submitted, refused: its problems and what to fill in again.
pub struct CardErrors {
    pub errors: Vec<FieldError>,
    pub values: CardValues,
}

/// Each card field's problem, as a catalog key, for the template's field macro.
#[derive(Default)]
pub struct CardFieldErrors {
    pub number: Option<&'static str>,
    pub expiry: Option<&'static str>,
    pub cvc: Option<&'static str>,
    pub name: Option<&'static str>,
}

/// A sandbox test card and what it does.
pub struct TestCard {
    pub number: &'static str,
    /// The catalog key of what it does.
    pub effect_key: &'static str,
}

#[derive(Template)]
#[template(path = "card.html")]
pub struct CardPage {
    pub page: Layout,
    pub summary: Summary,
    pub action: String,
    pub token: String,
    /// Every problem, in order, for the summary at the top.
    pub errors: Vec<FieldError>,
    /// The same problems by field, shown beside each.
    pub field_errors: CardFieldErrors,
    pub values: CardValues,
    /// Empty outside the sandbox.
    pub test_cards: Vec<TestCard>,
    /// After a declined card: why, and the ways out.
    pub retry: Option<Retry>,
    /// The route chooser, to pay another way (after a failed card).
    pub other_routes_href: Option<String>,
}

/// The card form: a card payment waits for the card, or (`retry`) the last card was declined.
/// With `card_errors`, the card just submitted was refused (422).
fn card(page: &StepPage<'_>, retry: bool, card_errors: Option<CardErrors>) -> HttpResponse {
    let CardErrors { errors, values } = card_errors.unwrap_or(CardErrors {
        errors: Vec::new(),
        values: CardValues::default(),
    });
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let title = if !errors.is_empty() {
        "card.error_title"
    } else if retry {
        "retry.title"
    } else {
        "card.title"
    };
    // A new card's errors replace the reason the last one failed.
    let retry = retry.then(|| match page.retry("number".into()) {
        r if errors.is_empty() => r,
        r => Retry {
            reason: String::new(),
            ..r
        },
    });
    let error_of = |field: &str| {
        errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message_key)
    };
    let field_errors = CardFieldErrors {
        number: error_of("number"),
        expiry: error_of("expiry"),
        cvc: error_of("cvc"),
        name: error_of("name"),
    };
    let sandbox = page.view.session.environment == Environment::Sandbox;
    render(
        status,
        &CardPage {
            page: page.layout(title),
            summary: page.summary(true),
            action: page.links.form(Form::Card),
            other_routes_href: retry.is_some().then(|| page.links.routes()),
            token: page.token(Form::Card),
            field_errors,
            errors,
            values,
            test_cards: match sandbox {
                true => TEST_CARDS
                    .iter()
                    .map(|&(number, effect_key)| TestCard { number, effect_key })
                    .collect(),
                false => Vec::new(),
            },
            retry,
        },
    )
}

#[derive(Template)]
#[template(path = "challenge.html")]
pub struct ChallengePage {
    pub page: Layout,
    pub summary: Summary,
    pub action: String,
    pub token: String,
    pub sandbox: bool,
}

/// The card issuer's confirmation step.
fn challenge(page: &StepPage<'_>) -> HttpResponse {
    render(
        StatusCode::OK,
        &ChallengePage {
            page: page.layout("challenge.title"),
            summary: page.summary(true),
            action: page.links.form(Form::Challenge),
            token: page.token(Form::Challenge),
            sandbox: page.view.session.environment == Environment::Sandbox,
        },
    )
}

/// The sandbox's form that makes a transfer happen (or fail).
pub struct SimulateForm {
    pub action: String,
    pub token: String,
    pub buttons: Vec<SimulateButton>,
}

/// One of its buttons.
pub struct SimulateButton {
    /// What the button posts as `action`.
    pub value: &'static str,
    /// The catalog key of its label.
    pub label_key: &'static str,
}

#[derive(Template)]
#[template(path = "instructions.html")]
pub struct InstructionsPage {
    pub page: Layout,
    pub summary: Summary,
    /// A wallet transfer (else a bank transfer).
    pub wallet: bool,
    pub instructions: Instructions,
    /// What to transfer, in the page's money format.
    pub bank_amount: String,
    pub qr_svg: String,
    pub simulate: Option<SimulateForm>,
    /// The heading: what to send on which network.
    pub heading: String,
    /// What the page says of the transfer so far (announced when it changes).
    pub status_text: String,
    /// Only this exact amount can be matched to the payment (an amount unique to it).
    pub exact_amount: bool,
    /// The transfer a browser wallet is asked to send (shown by the script when one is there).
    pub wallet_request: Option<WalletRequest>,
    /// The page still asks for the transfer: false once it is on the chain (or was, before a
    /// reorganisation), so that nobody sends it twice.
    pub sending: bool,
}

/// The transfer the page's script asks a browser wallet (EIP-1193) to send.
pub struct WalletRequest {
    /// The chain id in hex (`0x2105`).
    pub chain_hex: String,
    /// The token contract.
    pub token: String,
    /// The recipient.
    pub to: String,
    /// The amount in the token's smallest units, in decimal.
    pub units: String,
}

/// Part of the amount arrived at an address of the payment's own: the page, its QR code and
/// the browser wallet's request ask for what is left (`rest`, in tokens and in `units`).
fn ask_for_the_rest(instructions: &mut Instructions, rest: &str, units: TokenUnits) {
    let parse = |text: &Option<String>| text.as_deref().and_then(|t| ChainAddress::parse(t).ok());
    let (Some(token), Some(to), Some(chain_id)) = (
        parse(&instructions.token),
        parse(&instructions.address),
        instructions.chain_id,
    ) else {
        return;
    };
    instructions.asset_amount = Some(rest.to_owned());
    instructions.units = Some(units.to_string());
    instructions.payment_uri = Some(payment_uri(token, chain_id, to, units));
}

/// What to send where, while a wallet or bank transfer is awaited.
fn instructions(page: &StepPage<'_>, transfer: Transfer) -> HttpResponse {
    let Some(p) = page.payment else {
        return waiting(page);
    };
    let wallet = transfer == Transfer::Wallet;
    let mut instructions: Instructions =
        serde_json::from_str(&p.provider_data).unwrap_or_else(|_| Instructions::new(p.route_kind));
    if let Some(ChainStatus::Short {
        rest, rest_units, ..
    }) = &page.chain
    {
        ask_for_the_rest(&mut instructions, rest, *rest_units);
    }
    let qr_svg = instructions
        .payment_uri
        .as_deref()
        .map(qr_svg)
        .unwrap_or_default();
    let button = |value, label_key| SimulateButton { value, label_key };
    let sandbox_provider = p.provider == crate::providers::sandbox::ID;
    let simulate = (page.view.session.environment == Environment::Sandbox && sandbox_provider)
        .then(|| SimulateForm {
            action: page.links.form(Form::Simulate),
            token: page.token(Form::Simulate),
            buttons: match transfer {
                Transfer::Wallet => vec![
                    button("transfer", "wallet.simulate_ok"),
                    button("transfer_fail", "wallet.simulate_fail"),
                ],
                Transfer::Bank => vec![
                    button("bank_confirm", "bank.simulate_ok"),
                    button("bank_reject", "bank.simulate_fail"),
                ],
            },
        });
    let t = &page.ctx.t;
    let status_text = match page.chain {
        None => t.get("waiting.transfer").into_owned(),
        Some(ChainStatus::Waiting) => t.get("wallet.status_waiting").into_owned(),
        Some(ChainStatus::Seen {
            block,
            depth,
            needed,
        }) => t
            .with2(
                "wallet.status_seen",
                ("block", &block.to_string()),
                ("depth", &depth.to_string()),
            )
            .replace("{needed}", &needed.to_string()),
        Some(ChainStatus::Short {
            received,
            expected,
            rest,
            ..
        }) => t
            .with2(
                "wallet.status_short",
                ("received", received),
                ("expected", expected),
            )
            .replace("{rest}", rest),
        Some(ChainStatus::Removed) => t.get("wallet.status_removed").into_owned(),
    };
    let network = instructions
        .network
        .clone()
        .unwrap_or_else(|| "Base".into());
    let wallet_request = match (
        &instructions.chain_id,
        &instructions.token,
        &instructions.address,
        &instructions.units,
    ) {
        (Some(chain), Some(token), Some(to), Some(units)) => Some(WalletRequest {
            chain_hex: format!("0x{chain:x}"),
            token: token.clone(),
            to: to.clone(),
            units: units.clone(),
        }),
        _ => None,
    };
    let mut summary = page.summary(true);
    if wallet && let Some(amount) = &instructions.asset_amount {
        // What the buyer sends is the figure that matters: the USDC amount.
        summary.headline = format!("{amount} USDC");
    }
    render(
        StatusCode::OK,
        &InstructionsPage {
            page: page.waiting_layout(if wallet { "wallet.title" } else { "bank.title" }),
            bank_amount: page.ctx.money(p.total_cents),
            summary,
            wallet,
            heading: t.with("wallet.heading", "network", &network),
            exact_amount: instructions.exact,
            sending: !matches!(
                page.chain,
                Some(ChainStatus::Seen { .. } | ChainStatus::Removed)
            ),
            wallet_request,
            status_text,
            instructions,
            qr_svg,
            simulate,
        },
    )
}

#[derive(Template)]
#[template(path = "waiting.html")]
pub struct WaitingPage {
    pub page: Layout,
    pub summary: Summary,
    pub body: String,
}

/// The provider has the payment and has not decided. A bank debit accepted on the provider's
/// page says that clearing takes days.
fn waiting(page: &StepPage<'_>) -> HttpResponse {
    let bank_debit = page
        .payment
        .is_some_and(|p| p.route_kind == RouteKind::Local && provider_hosts_page(&p.provider));
    let body = page.ctx.t.get(if bank_debit {
        "waiting.bank_debit"
    } else {
        "waiting.body"
    });
    render(
        StatusCode::OK,
        &WaitingPage {
            page: page.waiting_layout("waiting.title"),
            summary: page.summary(true),
            body: body.into_owned(),
        },
    )
}

#[derive(Template)]
#[template(path = "result.html")]
pub struct ResultPage {
    pub page: Layout,
    pub summary: Summary,
    pub paid: bool,
    pub reason: String,
    pub back_href: Option<String>,
    /// Paid, and the merchant is being told before the buyer goes back.
    pub confirming: bool,
    /// What the buyer paid with: card brand and last four, transaction hash, bank reference.
    pub method: Option<String>,
    pub payment_id: Option<String>,
    pub customer_email: Option<String>,
    /// What refunds gave back, when they did.
    pub refunded: Option<String>,
    /// The receipt's link, once paid.
    pub receipt_href: Option<String>,
}

/// How a result page ends the buyer's visit.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Paid, and the merchant knows (or the short wait is over): back to the merchant at once.
    Paid,
    /// Paid, and the merchant is being told: a refresh every second, no return yet.
    PaidConfirming,
    /// Failed: the buyer stays until they choose to go.
    Failed,
    /// Failed, and the buyer chose to go back: at once.
    FailedLeaving,
}

/// The end: paid or failed.
fn result(page: &StepPage<'_>, outcome: Outcome) -> HttpResponse {
    let (ctx, session, payment) = (page.ctx, &page.view.session, page.payment);
    let paid = matches!(outcome, Outcome::Paid | Outcome::PaidConfirming);
    let status = if paid {
        SessionStatus::Paid
    } else {
        SessionStatus::Failed
    };
    let confirming = outcome == Outcome::PaidConfirming;
    let mut layout = page.layout(if paid {
        "result.paid_title"
    } else {
        "result.failed_title"
    });
    let back_href = session
        .redirect_url
        .as_deref()
        .filter(|_| !confirming)
        .map(|url| return_url(url, session.id.as_str(), status.as_str()));
    if confirming {
        layout.refresh = Some("1".into());
        layout.status_url = Some(page.links.status());
        layout.state_key = "paid:confirming".into();
    } else if matches!(outcome, Outcome::Paid | Outcome::FailedLeaving)
        && !ctx.preview
        && let Some(href) = &back_href
    {
        layout.redirect_now = Some(href.clone());
    }
    render(
        StatusCode::OK,
        &ResultPage {
            page: layout,
            summary: page.summary(true),
            paid,
            reason: match confirming {
                true => String::new(),
                false => failure_reason(ctx, payment),
            },
            back_href,
            confirming,
            method: payment.and_then(|p| payment_method(ctx, p)),
            payment_id: payment.map(|p| p.id.to_string()),
            customer_email: Some(session.customer_email.clone()).filter(|e| !e.is_empty()),
            refunded: payment
                .filter(|p| p.refunded_cents > 0)
                .map(|p| ctx.money(p.refunded_cents)),
            receipt_href: payment.filter(|_| paid).map(|p| {
                crate::domain::receipt::path(
                    &page.state.receipt_secret,
                    p.id.as_str(),
                    p.language.as_deref(),
                )
            }),
        },
    )
}

/// The session expired before a payment was made.
fn expired(page: &StepPage<'_>) -> HttpResponse {
    let (ctx, session) = (page.ctx, &page.view.session);
    render(
        StatusCode::OK,
        &MessagePage {
            page: page.layout("message.expired_title"),
            heading: ctx.t.get("message.expired_heading").into_owned(),
            body: ctx.t.get("message.expired_body").into_owned(),
            back_href: session
                .redirect_url
                .as_deref()
                .map(|url| return_url(url, session.id.as_str(), SessionStatus::Expired.as_str())),
        },
    )
}

/// How the buyer paid, in words: "Visa ending 4242", a transaction hash, a bank reference.
pub(super) fn payment_method(ctx: &Ctx, p: &PaymentRow) -> Option<String> {
    if let (Some(brand), Some(last4)) = (&p.card_brand, &p.card_last4) {
        return Some(ctx.t.with2(
            "result.card_method",
            ("brand", &card_brand_name(brand)),
            ("last4", last4),
        ));
    }
    if let Some(tx) = &p.tx_hash {
        return Some(ctx.t.with("result.tx_method", "tx", tx));
    }
    let instructions: Instructions = serde_json::from_str(&p.provider_data).ok()?;
    instructions
        .reference
        .map(|r| ctx.t.with("result.bank_method", "reference", &r))
}

fn card_brand_name(brand: &str) -> String {
    match brand {
        "visa" => "Visa".into(),
        "mastercard" => "Mastercard".into(),
        "amex" => "American Express".into(),
        "discover" => "Discover".into(),
        other => other.to_owned(),
    }
}

/// Why a payment failed, in the page's language (by its code), else the provider's words.
fn failure_reason(ctx: &Ctx, payment: Option<&PaymentRow>) -> String {
    let Some(p) = payment else {
        return ctx.t.get("result.failed_generic").into_owned();
    };
    let key = format!("failure.{}", p.failure_code.as_deref().unwrap_or("unknown"));
    match ctx.t.has(&key) {
        true => ctx.t.get(&key).into_owned(),
        false => p
            .failure_message
            .clone()
            .unwrap_or_else(|| ctx.t.get("result.failed_generic").into_owned()),
    }
}

#[derive(Template)]
#[template(path = "to_provider.html")]
pub struct ToProviderPage {
    pub page: Layout,
    pub heading: String,
    pub body: String,
    pub href: String,
    pub label: String,
}

/// On the way to the provider's own page: there at once, with a link for browsers that do
/// not follow. (A form's answer cannot send the buyer off this host: browsers apply the
/// pages' `form-action 'self'` to the redirects that follow a post.)
pub fn to_provider(
    state: &AppState,
    ctx: &Ctx,
    view: &SessionView,
    payment: &PaymentRow,
    href: String,
) -> HttpResponse {
    let provider = provider_name(state, payment);
    let mut page = ctx.layout(
        state,
        &ctx.t
            .with("checkout.to_provider_title", "provider", &provider),
        &view.merchant_name,
    );
    page.redirect_now = Some(href.clone());
    render(
        StatusCode::OK,
        &ToProviderPage {
            heading: page.title.clone(),
            page,
            body: ctx
                .t
                .with("checkout.to_provider_body", "provider", &provider),
            href,
            label: ctx.t.with("checkout.resume", "provider", &provider),
        },
    )
}

/// The name buyers know a payment's provider by: its route's `provider`.
fn provider_name(state: &AppState, payment: &PaymentRow) -> String {
    state
        .settings
        .routes
        .iter()
        .find(|r| r.id == payment.route_id)
        .map_or_else(|| payment.provider.clone(), |r| r.provider.clone())
}
