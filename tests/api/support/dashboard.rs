//! A person in a browser on the dashboard: keeps the session cookie, reads the forms' tokens
//! from the pages, posts forms from our own origin (or another, when a test says so), and never
//! follows redirects by itself.

use openrails_checkout::db::accounts::UserRow;
use openrails_checkout::domain::MerchantId;
use openrails_checkout::domain::account::Role;
use openrails_checkout::lifecycle::accounts::add_user;

use crate::helpers::TestApp;

/// The password every test person has.
pub const PASSWORD: &str = "correct horse battery";

/// A page as the browser got it.
pub struct Answer {
    pub status: u16,
    pub html: String,
    pub headers: reqwest::header::HeaderMap,
}

impl Answer {
    pub fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The one-time token of the form posting to `action`.
    pub fn token_of(&self, action: &str) -> String {
        let at = self
            .html
            .find(&format!("action=\"{action}\""))
            .unwrap_or_else(|| panic!("no form posting to {action}:\n{}", self.html));
        token_after(&self.html[at..])
    }

    /// The text of the element with `id` (up to its first child tag).
    pub fn text_of(&self, id: &str) -> String {
        let at = self
            .html
            .find(&format!("id=\"{id}\""))
            .unwrap_or_else(|| panic!("no #{id}:\n{}", self.html));
        let rest = &self.html[at..];
        let open = rest.find('>').unwrap() + 1;
        rest[open..open + rest[open..].find('<').unwrap()].to_owned()
    }

    /// The `value` of the input with `id` (its attributes in any order).
    pub fn value_of(&self, id: &str) -> String {
        let at = self
            .html
            .find(&format!("id=\"{id}\""))
            .unwrap_or_else(|| panic!("no #{id}:\n{}", self.html));
        let start = self.html[..at].rfind('<').unwrap();
        let end = at + self.html[at..].find('>').unwrap();
        let tag = &self.html[start..end];
        let value = tag.find("value=\"").expect("a value") + 7;
        tag[value..value + tag[value..].find('"').unwrap()].to_owned()
    }

    /// The token of the page's first form.
    pub fn first_token(&self) -> String {
        token_after(&self.html)
    }
}

fn token_after(html: &str) -> String {
    let at = html.find("name=\"token\" value=\"").expect("a token") + 20;
    html[at..at + html[at..].find('"').unwrap()].to_owned()
}

pub struct Browser {
    address: String,
    client: reqwest::Client,
    pub cookie: Option<String>,
}

impl Browser {
    pub fn new(app: &TestApp) -> Browser {
        Browser {
            address: app.address.clone(),
            client: reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookie: None,
        }
    }

    async fn answer(&mut self, response: reqwest::Response) -> Answer {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        if let Some(set) = headers.get("set-cookie").and_then(|v| v.to_str().ok()) {
            let pair = set.split(';').next().unwrap();
            let (_, value) = pair.split_once('=').unwrap();
            self.cookie = (!value.is_empty()).then(|| pair.to_owned());
        }
        Answer {
            status,
            html: response.text().await.unwrap(),
            headers,
        }
    }

    pub async fn get(&mut self, path: &str) -> Answer {
        let mut request = self.client.get(format!("{}{path}", self.address));
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.unwrap();
        self.answer(response).await
    }

    /// Posts `fields` as our own page would (`Origin` of the dashboard).
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let origin = self.address.clone();
        self.post_from(path, fields, &origin).await
    }

    pub async fn post_from(&mut self, path: &str, fields: &[(&str, &str)], origin: &str) -> Answer {
        let body = serde_urlencoded::to_string(fields).unwrap().into_bytes();
        self.send(path, origin, "application/x-www-form-urlencoded", body)
            .await
    }

    /// Posts `body` of `content_type` from `origin`, with the session's cookie.
    async fn send(
        &mut self,
        path: &str,
        origin: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Answer {
        let mut request = self
            .client
            .post(format!("{}{path}", self.address))
            .header("origin", origin)
            .header("content-type", content_type)
            .body(body);
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.unwrap();
        self.answer(response).await
    }

    /// Posts `fields` and one file as `multipart/form-data`, the way a browser sends a form
    /// with a file input: `file` is (field name, file name, content type, bytes).
    pub async fn post_multipart(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        file: (&str, &str, &str, &[u8]),
    ) -> Answer {
        let boundary = "----OrcTestBoundary7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        }
        let (name, filename, content_type, bytes) = file;
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; \
                 filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let origin = self.address.clone();
        let content_type = format!("multipart/form-data; boundary={boundary}");
        self.send(path, &origin, &content_type, body).await
    }

    /// Signs in through the sign-in page; the answer to the post.
    pub async fn sign_in(&mut self, email: &str, password: &str) -> Answer {
        let page = self.get("/dashboard/login").await;
        assert_eq!(page.status, 200);
        let token = page.token_of("/dashboard/login");
        self.post(
            "/dashboard/login",
            &[
                ("token", &token),
                ("email", email),
                ("password", password),
                ("next", "/dashboard"),
            ],
        )
        .await
    }
}

/// A person of `merchant_id` with `role` and [`PASSWORD`].
pub async fn person(app: &TestApp, merchant_id: &MerchantId, email: &str, role: Role) -> UserRow {
    add_user(&app.db, merchant_id, email, PASSWORD, role)
        .await
        .unwrap()
        .unwrap()
}

/// A browser signed in as a new person of the app's merchant with `role`.
pub async fn signed_in(app: &TestApp, email: &str, role: Role) -> Browser {
    signed_in_at(app, &app.merchant_id, email, role).await
}

/// A browser signed in as a new person of `merchant_id` with `role`.
pub async fn signed_in_at(
    app: &TestApp,
    merchant_id: &MerchantId,
    email: &str,
    role: Role,
) -> Browser {
    person(app, merchant_id, email, role).await;
    let mut browser = Browser::new(app);
    let answer = browser.sign_in(email, PASSWORD).await;
    assert_eq!(answer.status, 303, "{}", answer.html);
    browser
}
