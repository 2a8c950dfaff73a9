//! The fee examples of SPEC 4, as the buyer sees them and as the merchant reads them.

use crate::checkout_support::*;
use crate::helpers::spawn_app;

async fn assert_card_fees(amount: f64, shown: (&str, &str, &str), fees: [f64; 4]) {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(amount, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);
    let (price, fee, total) = shown;

    let choosing = buyer.open().await;
    assert!(choosing.html.contains(price), "{price}:\n{}", choosing.html);
    assert!(
        choosing.html.contains(fee) && choosing.html.contains(total),
        "the card route shows its fee and total before paying:\n{}",
        choosing.html
    );

    let card_form = buyer.choose(CARD_ROUTE).await;
    assert!(card_form.html.contains(fee), "{}", card_form.html);
    assert!(
        card_form.html.contains(&format!("Pay {total}")),
        "{}",
        card_form.html
    );

    buyer.pay_with_card(CARD_PAYS).await;
    let payment = api_payment(&app, &id).await;
    let names = ["buyer_fee", "gateway_fee", "merchant_net", "total"];
    for (name, value) in names.iter().zip(fees) {
        assert_eq!(
            payment["fees"][name].as_f64(),
            Some(value),
            "{name}: {payment}"
        );
    }
    assert_eq!(payment["amount"].as_f64(), Some(amount), "{payment}");
    let session = api_session(&app, &id).await;
    for (name, value) in names.iter().zip(fees) {
        assert_eq!(
            session["fees"][name].as_f64(),
            Some(value),
            "{name}: {session}"
        );
    }
    assert_eq!(session["route"]["id"], CARD_ROUTE, "{session}");
    let events = events_of(&app, &id).await;
    assert_eq!(events.len(), 2);
    for event in events {
        for (name, value) in names.iter().zip(fees) {
            assert_eq!(
                event.payload["data"]["fees"][name].as_f64(),
                Some(value),
                "{name}: {}",
                event.raw
            );
        }
    }
}

#[tokio::test]
async fn card_fees_on_116_are_3_72_and_the_buyer_pays_119_72() {
    assert_card_fees(
        116.0,
        ("$116.00", "$3.72", "$119.72"),
        [3.72, 3.48, 112.52, 119.72],
    )
    .await;
}

#[tokio::test]
async fn card_fees_on_899_are_28_77_and_the_buyer_pays_927_77() {
    assert_card_fees(
        899.0,
        ("$899.00", "$28.77", "$927.77"),
        [28.77, 26.97, 872.03, 927.77],
    )
    .await;
}
