//! `openrails-checkout preview export <dir>`: the preview gallery as static files, for review
//! without a server. Rendered from fixtures; no database is opened.

use std::path::Path;

use anyhow::Context;
use askama::Template;
use clap::Subcommand;

use crate::assets::asset_bytes;
use crate::config::Settings;
use crate::routes::pages::preview::{GALLERY_CSS, entries, fixtures, gallery_page, render_entry};
use crate::state::AppState;

#[derive(Subcommand)]
pub enum PreviewAction {
    /// Write every gallery page, an index.html and the assets into a folder.
    Export { dir: String },
}

pub async fn run(settings: Settings, action: PreviewAction) -> anyhow::Result<()> {
    let PreviewAction::Export { dir } = action;
    let count = export(settings, Path::new(&dir)).await?;
    println!("wrote {count} pages and index.html to {dir}");
    Ok(())
}

/// Writes the gallery into `dir`; returns how many entry pages.
pub async fn export(settings: Settings, dir: &Path) -> anyhow::Result<usize> {
    let static_dir = settings.static_dir.clone();
    let state = AppState::offline(settings)?;
    std::fs::create_dir_all(dir.join("static"))
        .with_context(|| format!("creating {}", dir.display()))?;
    std::fs::create_dir_all(dir.join("assets"))?;
    for name in ["checkout.css", "checkout.js", "dashboard.css"] {
        let bytes = asset_bytes(&static_dir, name).with_context(|| format!("reading {name}"))?;
        std::fs::write(dir.join("static").join(name), bytes)?;
    }
    std::fs::write(dir.join("assets/brand.css"), fixtures::brand_css())?;
    std::fs::write(dir.join("assets/gallery.css"), GALLERY_CSS)?;
    std::fs::write(dir.join("assets/logo.svg"), fixtures::LOGO)?;
    let relative = |html: &str| {
        let mut html = html
            .replace(&state.assets.css_href(), "static/checkout.css")
            .replace(&state.assets.js_href(), "static/checkout.js")
            .replace(&state.assets.href("dashboard.css"), "static/dashboard.css")
            .replace("\"/static/checkout.css\"", "\"static/checkout.css\"")
            .replace("\"/static/dashboard.css\"", "\"static/dashboard.css\"")
            .replace("/preview/assets/", "assets/");
        // Entry links (and language switchers) point at sibling files.
        for entry in entries(&state) {
            html = html.replace(
                &format!("\"/preview/{}\"", entry.slug),
                &format!("\"{}.html\"", entry.slug),
            );
        }
        html
    };
    let index = gallery_page(&state, "/preview/")
        .render()
        .context("rendering the gallery index")?;
    std::fs::write(dir.join("index.html"), relative(&index))?;
    let all = entries(&state);
    for entry in &all {
        let t = state
            .catalogs
            .find(entry.language)
            .context("a gallery language has no catalog")?;
        let response = render_entry(&state, entry, t);
        let body = actix_web::body::to_bytes(response.into_body())
            .await
            .map_err(|e| anyhow::anyhow!("reading a rendered page: {e}"))?;
        let html = String::from_utf8_lossy(&body);
        std::fs::write(dir.join(format!("{}.html", entry.slug)), relative(&html))?;
    }
    Ok(all.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_export_writes_one_file_per_entry_and_an_index() {
        let dir = tempfile::tempdir().expect("temp dir");
        let count = export(Settings::default(), dir.path())
            .await
            .expect("export");
        let pages = std::fs::read_dir(dir.path())
            .expect("read dir")
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "html"))
            .count();
        assert_eq!(
            count,
            entries(&AppState::offline(Settings::default()).expect("offline state")).len()
        );
        assert_eq!(pages, count + 1);
        let index = std::fs::read_to_string(dir.path().join("index.html")).expect("index");
        assert!(index.contains("href=\"card.es.branded.html\""));
        let page = std::fs::read_to_string(dir.path().join("card.es.branded.html")).expect("page");
        assert!(page.contains("href=\"static/checkout.css\"") && page.contains("assets/brand.css"));
        assert!(dir.path().join("static/checkout.js").exists());
        let home = std::fs::read_to_string(dir.path().join("dashboard-home.pt-BR.plain.html"))
            .expect("the dashboard's home");
        assert!(home.contains("href=\"static/dashboard.css\""), "{home}");
        assert!(home.contains("lang=\"pt-BR\""));
        let branding = std::fs::read_to_string(dir.path().join("dashboard-branding.es.plain.html"))
            .expect("the branding page");
        assert!(
            branding.contains("src=\"choose.es.branded.html\""),
            "{branding}"
        );
    }
}
