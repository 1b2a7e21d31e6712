//! Live reload: the browsers connected over Server-Sent Events, the script the
//! server injects into its pages (never into a bake), the error overlay, and what
//! a change means for each connected page (reload, swap a stylesheet, nothing).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Mutex;

use super::site::{touches, Output, PageResult, Resolved, Snapshot};
use crate::engine::errors::TemplateErrors;
use crate::site::resolve::SitePath;

/// Where the server's own resources live (no site file is served there).
pub(crate) const PREFIX: &str = "/__ssibake/";

/// The id of the reload script's element (tests cut the script out by it).
pub(crate) const SCRIPT_ID: &str = "ssibake-live-reload";

/// The script injected before `</body>` of every HTML page served. It connects to
/// the event stream for its own path, saying which version of the page it shows
/// (a change in between is a reload at once); `hello` carries the server's
/// instance, so a page reloads when it reconnects to a restarted server.
pub(crate) fn script(instance: &str, version: &str) -> String {
    format!(
        "<script id=\"{SCRIPT_ID}\">(function(){{var id=\"{instance}\";\
var u=\"{PREFIX}events?path=\"+encodeURIComponent(location.pathname)+\"&v={version}\";\
var s=new EventSource(u);\
s.addEventListener(\"hello\",function(e){{if(e.data!==id){{location.reload()}}}});\
s.addEventListener(\"reload\",function(){{s.close();location.reload()}});\
s.addEventListener(\"css\",function(e){{var l=JSON.parse(e.data);\
document.querySelectorAll(\"link[rel~=stylesheet]\").forEach(function(k){{\
var h=new URL(k.href,location.href);if(l.indexOf(h.pathname)>=0){{\
h.searchParams.set(\"ssibake-reload\",Date.now());k.href=h.href}}}})}});\
window.__ssibakeLive=s}})();</script>"
    )
}

/// `page` with the script inserted before its last `</body>` (any case), or at
/// its end.
pub(crate) fn inject(page: &[u8], script: &str) -> Vec<u8> {
    let at = page
        .windows(7)
        .rposition(|w| w.eq_ignore_ascii_case(b"</body>"))
        .unwrap_or(page.len());
    let mut out = Vec::with_capacity(page.len() + script.len());
    out.extend_from_slice(&page[..at]);
    out.extend_from_slice(script.as_bytes());
    out.extend_from_slice(&page[at..]);
    out
}

/// Text made safe for HTML element content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page a failing template answers with (status 500): each diagnostic as the
/// terminal shows it, escaped, in an overlay; the reload script keeps it live.
pub(crate) fn overlay(title: &str, text: &str, script: &str) -> Vec<u8> {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>ssibake: {title}</title><style>\
body{{margin:0;background:#1e1e1e}}\
#ssibake-overlay{{position:fixed;inset:0;overflow:auto;padding:2em;\
background:#1e1e1e;color:#f0f0f0;font:14px/1.5 ui-monospace,monospace}}\
#ssibake-overlay h1{{color:#ff6b6b;font-size:1.2em;margin:0 0 1em}}\
#ssibake-overlay pre{{white-space:pre-wrap;margin:0}}\
</style></head><body><div id=\"ssibake-overlay\" role=\"alert\">\
<h1>{title}</h1><pre>{}</pre>\
<p>ssibake serve: this page reloads when the file is saved.</p></div>{script}</body></html>\n",
        escape(text),
        title = escape(title),
    )
    .into_bytes()
}

/// The diagnostics of a failed page, as the terminal prints them (no colour).
pub(crate) fn diagnostics_text(errors: &TemplateErrors) -> String {
    errors.render(false)
}

/// One connected page.
struct Client {
    id: u64,
    path: SitePath,
    trailing_slash: bool,
    tx: mpsc::Sender<String>,
}

/// The connected pages.
pub(crate) struct Hub {
    clients: Mutex<Vec<Client>>,
    next: AtomicU64,
}

/// What a change means for one page.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Action {
    Reload,
    /// Swap these stylesheets (URL paths).
    Css(Vec<String>),
    Nothing,
}

impl Hub {
    pub(crate) fn new() -> Hub {
        Hub {
            clients: Mutex::new(Vec::new()),
            next: AtomicU64::new(1),
        }
    }

    /// Registers a page; its messages arrive on the receiver.
    pub(crate) fn join(
        &self,
        path: SitePath,
        trailing_slash: bool,
    ) -> (u64, mpsc::Receiver<String>) {
        let (tx, rx) = mpsc::channel();
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().push(Client {
            id,
            path,
            trailing_slash,
            tx,
        });
        (id, rx)
    }

    pub(crate) fn leave(&self, id: u64) {
        self.lock().retain(|c| c.id != id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Client>> {
        self.clients.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Tells every connected page what the change from `old` to `new` means for
    /// it. Returns how many pages reload.
    pub(crate) fn notify(
        &self,
        old: &Snapshot,
        new: &Snapshot,
        changed: &HashSet<SitePath>,
    ) -> usize {
        let mut reloads = 0;
        for c in self.lock().iter() {
            let message = match action(old, new, changed, &c.path, c.trailing_slash) {
                Action::Reload => {
                    reloads += 1;
                    "event: reload\ndata: \n\n".to_string()
                }
                Action::Css(urls) => {
                    format!("event: css\ndata: {}\n\n", serde_json::Value::from(urls))
                }
                Action::Nothing => continue,
            };
            let _ = c.tx.send(message);
        }
        reloads
    }
}

/// What the change from `old` to `new` (the paths `changed`) means for the page
/// open at `path`: a reload when one of its inputs changed or what it answers
/// changed; a stylesheet swap when the only inputs changed are stylesheets it
/// merely stamps (or does not use at all); otherwise nothing.
pub(crate) fn action(
    old: &Snapshot,
    new: &Snapshot,
    changed: &HashSet<SitePath>,
    path: &SitePath,
    trailing_slash: bool,
) -> Action {
    let css: Vec<&SitePath> = changed
        .iter()
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e.eq_ignore_ascii_case(b"css"))
                && matches!(new.resolve(p, false), Resolved::Found(_, Output::Asset(_)))
        })
        .collect();
    let swap = |only: &[&SitePath]| {
        let mut urls: Vec<String> = only
            .iter()
            .map(|p| String::from_utf8_lossy(&p.url()).into_owned())
            .collect();
        urls.sort();
        if urls.is_empty() {
            Action::Nothing
        } else {
            Action::Css(urls)
        }
    };
    let (before, after) = (
        old.resolve(path, trailing_slash),
        new.resolve(path, trailing_slash),
    );
    if before != after || old.problem != new.problem {
        return Action::Reload;
    }
    let Resolved::Found(_, Output::Page(input)) = &after else {
        // A 404, a file or a redirect: only what it answers can change.
        return if old.fingerprint(path, trailing_slash) != new.fingerprint(path, trailing_slash) {
            Action::Reload
        } else {
            Action::Nothing
        };
    };
    let (Some(o), Some(n)) = (old.pages.get(input), new.pages.get(input)) else {
        return Action::Reload;
    };
    let hit: Vec<&SitePath> = changed
        .iter()
        .filter(|p| {
            let one: HashSet<SitePath> = HashSet::from([(*p).clone()]);
            o.deps.contains(*p)
                || n.deps.contains(*p)
                || o.deps.iter().chain(&n.deps).any(|d| touches(&one, d))
        })
        .collect();
    if hit.is_empty() {
        let same = match (&o.result, &n.result) {
            (PageResult::Ok(a), PageResult::Ok(b)) => a == b,
            _ => old.fingerprint(path, trailing_slash) == new.fingerprint(path, trailing_slash),
        };
        return if same { swap(&css) } else { Action::Reload };
    }
    let only_stamped_css = matches!(n.result, PageResult::Ok(_))
        && hit
            .iter()
            .all(|p| css.contains(p) && n.stamped_only.contains(*p));
    if only_stamped_css {
        swap(&css)
    } else {
        Action::Reload
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn injects_before_the_last_body_end_tag() {
        assert_eq!(inject(b"<p>a</BODY></html>", "S"), b"<p>aS</BODY></html>");
        assert_eq!(inject(b"no body", "S"), b"no bodyS");
        assert_eq!(inject(b"</body>x</body>", "S"), b"</body>xS</body>");
    }

    #[test]
    fn overlay_escapes_everything() {
        let page = overlay("a<b", "<script>alert(1)</script> & \"'", "");
        let text = String::from_utf8(page).unwrap();
        assert!(!text.contains("<script>alert"));
        assert!(text.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;&#39;"));
        assert!(text.contains("<title>ssibake: a&lt;b</title>"));
    }
}
