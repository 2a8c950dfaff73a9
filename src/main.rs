//! `openrails-checkout`: see `openrails_checkout::cli` for the subcommands.

#[tokio::main]
async fn main() {
    if let Err(e) = openrails_checkout::cli::run().await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
