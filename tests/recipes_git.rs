//! The git deploy hooks of `examples/recipes/`, run for real: a bare repository
//! with the hook installed, a developer's clone, and `git push` over the file
//! protocol, against the built binary. Each version source (`fs`, `git`,
//! `epoch`, and `#fhash`/`#frev` pages) goes through a first deploy, a change, a
//! broken push and a fix, and what is served after each push is compared byte
//! for byte, stamps included.
//!
//! * `post-receive`: bakes after the branch moved; a broken push is accepted and
//!   the served tree stays the last good build (or nothing, on a first deploy).
//! * `pre-receive` (the same file installed as both hooks): a broken push is
//!   refused, the branch and the served tree unchanged; an accepted one is
//!   published.

mod common;
mod recipe_tools;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;
use recipe_tools::*;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Hook {
    /// `examples/recipes/post-receive`.
    Post,
    /// `examples/recipes/pre-receive`, installed as pre- and post-receive.
    Pre,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Source {
    Fs,
    Git,
    Epoch,
    /// `mtime-from` left alone; the page uses `#frev` and `#fhash`.
    Hash,
}

/// A deploy server (bare repository, hook, work tree, served directory) and a
/// developer's clone that pushes to it over `file://`.
struct Setup {
    _tmp: tempfile::TempDir,
    home: PathBuf,
    bare: PathBuf,
    src: PathBuf,
    www: PathBuf,
    work: PathBuf,
}

impl Setup {
    fn new(hook: Hook) -> Setup {
        let tmp = tempfile::tempdir().unwrap();
        let t = tmp.path().to_path_buf();
        let home = t.join("home");
        fs::create_dir(&home).unwrap();
        let s = Setup {
            home,
            bare: t.join("site.git"),
            src: t.join("srv/src"),
            www: t.join("srv/www"),
            work: t.join("work"),
            _tmp: tmp,
        };
        s.git(&t, &["init", "-q", "--bare", "-b", "main", "site.git"]);
        let installs: &[(&str, &str)] = match hook {
            Hook::Post => &[("post-receive", "post-receive")],
            Hook::Pre => &[
                ("pre-receive", "pre-receive"),
                ("pre-receive", "post-receive"),
            ],
        };
        for (file, name) in installs {
            let target = s.bare.join("hooks").join(name);
            fs::copy(recipe(file), &target).unwrap();
            set_mode(&target, 0o755);
        }
        for (key, value) in [
            ("ssibake.worktree", s.src.to_str().unwrap()),
            ("ssibake.out", s.www.to_str().unwrap()),
            ("ssibake.bin", bin().to_str().unwrap()),
        ] {
            s.git(&s.bare, &["config", key, value]);
        }
        let url = format!("file://{}", s.bare.display());
        s.git(&t, &["clone", "-q", &url, "work"]);
        s
    }

    fn git(&self, dir: &Path, args: &[&str]) -> Run {
        run_expect(tool("git", dir, &self.home).args(args), 0)
    }

    /// Commits everything in the clone with author and committer time `time`.
    fn commit(&self, message: &str, time: u64) -> String {
        self.git(&self.work, &["add", "-A"]);
        let date = format!("@{time} +0000");
        run_expect(
            tool("git", &self.work, &self.home)
                .env("GIT_AUTHOR_DATE", &date)
                .env("GIT_COMMITTER_DATE", &date)
                .args(["commit", "-q", "-m", message]),
            0,
        );
        self.rev(&self.work, "HEAD")
    }

    fn rev(&self, dir: &Path, name: &str) -> String {
        let r = run(tool("git", dir, &self.home).args(["rev-parse", "-q", "--verify", name]));
        r.stdout_text().trim().to_string()
    }

    fn push(&self) -> Run {
        run(tool("git", &self.work, &self.home).args(["push", "origin", "main"]))
    }

    fn short(&self, rev: &str) -> String {
        self.git(&self.bare, &["rev-parse", "--short", rev])
            .stdout_text()
            .trim()
            .to_string()
    }
}

fn write_site(work: &Path, source: Source) {
    let (mode, head) = match source {
        Source::Hash => (
            "",
            "<link href=\"<!--#frev virtual=\"/css/site.css\" -->\">\
             <script src=\"/js/app.js?h=<!--#fhash virtual=\"/js/app.js\" -->\"></script>\n",
        ),
        _ => (
            match source {
                Source::Fs => "mtime-from = \"fs\"\n",
                Source::Git => "mtime-from = \"git\"\nstrict-git = true\n",
                _ => "mtime-from = \"epoch\"\n",
            },
            "<link href=\"/css/site.css?v=<!--#flastmod virtual=\"/css/site.css\" -->\">\n",
        ),
    };
    write(
        work,
        "index.shtml",
        format!(
            "<!--#config timefmt=\"%s\" -->{head}\
             <!--#include virtual=\"/partials/nav.html\" -->\
             <h1><!--#echo var=\"SITE\" --></h1>\n\
             <p>Built <!--#echo var=\"DATE_GMT\" --></p>\n"
        ),
    );
    write(work, "partials/nav.html", "<nav>v1</nav>\n");
    write(work, "css/site.css", "body{color:red}\n");
    write(work, "js/app.js", "console.log(1)\n");
    write(work, "img/logo.svg", "<svg/>\n");
    write(work, "README.md", "not published\n");
    write(
        work,
        "ssibake.toml",
        format!("{mode}exclude = [\"README.md\"]\n[defines]\nSITE = \"Hooked\"\n"),
    );
}

/// The served page for this source, given the stamp of `css/site.css` (its
/// version time, or nothing for `Hash`) and the commit time `built`.
fn expected_page(s: &Setup, source: Source, css_stamp: u64, built: u64, nav: &str) -> String {
    let head = match source {
        Source::Hash => {
            let css = read(&s.www.join("css/site.css"));
            let js = read(&s.www.join("js/app.js"));
            format!(
                "<link href=\"/css/site.{}.css\"><script src=\"/js/app.js?h={}\"></script>\n",
                sha256_hex(&css, 10),
                sha256_hex(&js, 10)
            )
        }
        _ => format!("<link href=\"/css/site.css?v={css_stamp}\">\n"),
    };
    format!("{head}<nav>{nav}</nav>\n<h1>Hooked</h1>\n<p>Built {built}</p>\n")
}

/// The time `css/site.css` is stamped with in this source after a push whose
/// commit time is `commit_time`, `css_commit` being the time of the commit that
/// last changed it.
fn css_stamp(s: &Setup, source: Source, css_commit: u64, commit_time: u64) -> u64 {
    match source {
        // The work tree's file time, which a later push leaves alone unless
        // the file changed.
        Source::Fs => secs(mtime(&s.src.join("css/site.css"))),
        Source::Git => css_commit,
        Source::Epoch => commit_time,
        Source::Hash => 0,
    }
}

const T1: u64 = 1_700_000_000;
const T2: u64 = T1 + 100;
const T3: u64 = T1 + 200;
const T4: u64 = T1 + 300;

fn deploy_scenario(hook: Hook, source: Source) {
    if !require("git") {
        return;
    }
    let s = Setup::new(hook);

    // First deploy.
    write_site(&s.work, source);
    let c1 = s.commit("first", T1);
    let push = s.push();
    assert_eq!(push.code, 0, "{}", push.stderr);
    assert!(
        push.stderr.contains("remote: ssibake hook: "),
        "{}",
        push.stderr
    );
    assert_eq!(
        read_text(&s.www.join("index.html")),
        expected_page(&s, source, css_stamp(&s, source, T1, T1), T1, "v1"),
        "{source:?}, first deploy"
    );
    let mut published = vec![
        "css/site.css".to_string(),
        "img/logo.svg".into(),
        "index.html".into(),
        "js/app.js".into(),
        "partials/nav.html".into(),
    ];
    if source == Source::Hash {
        let name = format!("css/site.{}.css", sha256_hex(b"body{color:red}\n", 10));
        assert_eq!(read(&s.www.join(&name)), b"body{color:red}\n");
        published.push(name);
        published.sort();
    }
    assert_eq!(files(&s.www), published, "{source:?}");
    if source == Source::Fs {
        // Copies keep their source's time, so a later `flastmod` against the
        // served tree agrees.
        assert_eq!(
            mtime(&s.www.join("css/site.css")),
            mtime(&s.src.join("css/site.css"))
        );
    }
    assert_eq!(s.rev(&s.bare, "refs/ssibake/served"), c1);
    assert_eq!(
        read_text(&s.bare.join("HEAD")),
        "ref: refs/heads/main\n",
        "the hook leaves the repository's HEAD alone"
    );
    assert_eq!(
        leftovers(s.www.parent().unwrap(), "src."),
        Vec::<String>::new()
    );
    assert_eq!(
        leftovers(s.www.parent().unwrap(), ".ssibake"),
        Vec::<String>::new()
    );
    let logo_time = mtime(&s.www.join("img/logo.svg"));

    // The stylesheet changes.
    write(&s.work, "css/site.css", "body{color:blue}\n");
    let c2 = s.commit("blue", T2);
    let push = s.push();
    assert_eq!(push.code, 0, "{}", push.stderr);
    let stamp2 = css_stamp(&s, source, T2, T2);
    assert_eq!(
        read_text(&s.www.join("index.html")),
        expected_page(&s, source, stamp2, T2, "v1"),
        "{source:?}, second deploy"
    );
    assert_eq!(read(&s.www.join("css/site.css")), b"body{color:blue}\n");
    assert_eq!(
        mtime(&s.www.join("img/logo.svg")),
        logo_time,
        "an unchanged file keeps its time across deploys"
    );
    if source == Source::Hash {
        // The previous build's revved copy stays for pages cached elsewhere.
        let old = format!("css/site.{}.css", sha256_hex(b"body{color:red}\n", 10));
        assert_eq!(read(&s.www.join(old)), b"body{color:red}\n");
    }
    let second_build = snapshot(&s.www);

    // A broken page, with a partial changed too.
    write(&s.work, "partials/nav.html", "<nav>v2</nav>\n");
    write(
        &s.work,
        "news.shtml",
        "<p>news</p>\n<!--#includ virtual=\"/partials/nav.html\" -->\n",
    );
    let c3 = s.commit("broken", T3);
    let src_before = snapshot(&s.src);
    let push = s.push();
    for expected in [
        "remote: news.shtml:2:6: error: unknown directive `#includ`",
        "did you mean `#include`?",
    ] {
        assert!(
            push.stderr.contains(expected),
            "the push output lacks `{expected}`:\n{}",
            push.stderr
        );
    }
    assert_same_tree(&second_build, &snapshot(&s.www));
    match hook {
        Hook::Post => {
            // post-receive runs after the branch moved: it cannot refuse the
            // push, but says what is served.
            assert_eq!(push.code, 0, "{}", push.stderr);
            let expected = format!(
                "remote: ssibake hook: bake FAILED; {} still serves the previous build (commit {})",
                s.www.display(),
                s.short(&c2)
            );
            assert!(push.stderr.contains(&expected), "{}", push.stderr);
            assert!(
                push.stderr
                    .contains("the push itself went through (main is at"),
                "{}",
                push.stderr
            );
            assert_eq!(s.rev(&s.bare, "refs/heads/main"), c3);
        }
        Hook::Pre => {
            assert_ne!(push.code, 0, "a refused push fails `git push`");
            let expected = format!(
                "remote: ssibake hook: push REFUSED: {} does not bake; main and {} are unchanged",
                s.short(&c3),
                s.www.display()
            );
            assert!(push.stderr.contains(&expected), "{}", push.stderr);
            assert!(
                push.stderr
                    .contains("[remote rejected] main -> main (pre-receive hook declined)"),
                "{}",
                push.stderr
            );
            assert_eq!(
                s.rev(&s.bare, "refs/heads/main"),
                c2,
                "the branch did not move"
            );
            assert_same_tree(&src_before, &snapshot(&s.src));
        }
    }
    assert_eq!(s.rev(&s.bare, "refs/ssibake/served"), c2);
    assert_eq!(
        leftovers(s.www.parent().unwrap(), "src."),
        Vec::<String>::new()
    );
    assert_eq!(
        leftovers(s.www.parent().unwrap(), ".ssibake"),
        Vec::<String>::new()
    );

    // The fix; the stylesheet is untouched since the second push.
    fs::remove_file(s.work.join("news.shtml")).unwrap();
    let c4 = s.commit("fixed", T4);
    let push = s.push();
    assert_eq!(push.code, 0, "{}", push.stderr);
    assert!(!push.stderr.contains("FAILED"), "{}", push.stderr);
    let stamp4 = css_stamp(&s, source, T2, T4);
    if source == Source::Fs || source == Source::Git {
        assert_eq!(stamp4, stamp2, "an unchanged stylesheet keeps its stamp");
    }
    assert_eq!(
        read_text(&s.www.join("index.html")),
        expected_page(&s, source, stamp4, T4, "v2"),
        "{source:?}, after the fix"
    );
    assert!(!s.www.join("news.html").exists() && !s.src.join("news.shtml").exists());
    assert_eq!(mtime(&s.www.join("img/logo.svg")), logo_time);
    assert_eq!(s.rev(&s.bare, "refs/ssibake/served"), c4);
    assert_eq!(
        s.rev(&s.src, "HEAD"),
        c4,
        "the work tree is at the pushed commit"
    );
    assert_eq!(
        leftovers(s.www.parent().unwrap(), "src."),
        Vec::<String>::new()
    );

    // Pushing another branch deploys nothing.
    s.git(&s.work, &["checkout", "-q", "-b", "feature"]);
    write(&s.work, "partials/nav.html", "<nav>feature</nav>\n");
    s.commit("feature", T4 + 100);
    let before = snapshot(&s.www);
    let push = run_expect(
        tool("git", &s.work, &s.home).args(["push", "origin", "feature"]),
        0,
    );
    assert!(!push.stderr.contains("ssibake hook"), "{}", push.stderr);
    assert_same_tree(&before, &snapshot(&s.www));
}

#[test]
fn post_receive_fs() {
    deploy_scenario(Hook::Post, Source::Fs);
}

#[test]
fn post_receive_git() {
    deploy_scenario(Hook::Post, Source::Git);
}

#[test]
fn post_receive_epoch() {
    deploy_scenario(Hook::Post, Source::Epoch);
}

#[test]
fn post_receive_fhash_frev() {
    deploy_scenario(Hook::Post, Source::Hash);
}

#[test]
fn pre_receive_fs() {
    deploy_scenario(Hook::Pre, Source::Fs);
}

#[test]
fn pre_receive_git() {
    deploy_scenario(Hook::Pre, Source::Git);
}

#[test]
fn pre_receive_epoch() {
    deploy_scenario(Hook::Pre, Source::Epoch);
}

#[test]
fn pre_receive_fhash_frev() {
    deploy_scenario(Hook::Pre, Source::Hash);
}

/// A first push that does not bake: nothing was ever served, and each hook says
/// so truthfully.
fn broken_first_deploy(hook: Hook) {
    if !require("git") {
        return;
    }
    let s = Setup::new(hook);
    write_site(&s.work, Source::Git);
    write(&s.work, "bad.shtml", "<!--#echo -->\n");
    let c1 = s.commit("first", T1);
    let push = s.push();
    assert!(
        push.stderr.contains("remote: bad.shtml:1:"),
        "{}",
        push.stderr
    );
    assert!(!s.www.exists(), "nothing is served");
    assert_eq!(s.rev(&s.bare, "refs/ssibake/served"), "");
    match hook {
        Hook::Post => {
            assert_eq!(push.code, 0, "{}", push.stderr);
            let expected = format!(
                "remote: ssibake hook: bake FAILED; nothing is published: {} does not exist yet (this was the first deploy)",
                s.www.display()
            );
            assert!(push.stderr.contains(&expected), "{}", push.stderr);
            assert!(!push.stderr.contains("still serves"), "{}", push.stderr);
            assert_eq!(s.rev(&s.bare, "refs/heads/main"), c1);
        }
        Hook::Pre => {
            assert_ne!(push.code, 0, "{}", push.stderr);
            assert!(push.stderr.contains("push REFUSED"), "{}", push.stderr);
            assert_eq!(s.rev(&s.bare, "refs/heads/main"), "", "no branch was made");
            assert!(!s.src.exists(), "no work tree was made");
        }
    }
    assert_eq!(
        fs::read_dir(s.www.parent().unwrap())
            .map(|d| d.count())
            .unwrap_or(0),
        usize::from(hook == Hook::Post),
        "only the post-receive work tree is left beside the served directory"
    );

    // Fixed, the next push is the first deploy.
    fs::remove_file(s.work.join("bad.shtml")).unwrap();
    let c2 = s.commit("fixed", T2);
    let push = s.push();
    assert_eq!(push.code, 0, "{}", push.stderr);
    assert_eq!(
        read_text(&s.www.join("index.html")),
        expected_page(&s, Source::Git, T1, T2, "v1"),
        "the stylesheet was committed with the refused first commit"
    );
    assert_eq!(s.rev(&s.bare, "refs/ssibake/served"), c2);
}

#[test]
fn post_receive_first_deploy_that_fails_says_nothing_is_served() {
    broken_first_deploy(Hook::Post);
}

#[test]
fn pre_receive_refuses_a_first_deploy_that_fails() {
    broken_first_deploy(Hook::Pre);
}

/// ssibake itself, run by any hook that exports the repository variables of the
/// bare repository (or of any other), still reads the history of the
/// repository around its document root.
#[test]
fn mtime_from_git_ignores_the_inherited_repository_variables() {
    if !require("git") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let home = t.join("home");
    fs::create_dir(&home).unwrap();
    let git = |dir: &Path, args: &[&str], time: u64| {
        let date = format!("@{time} +0000");
        run_expect(
            tool("git", dir, &home)
                .env("GIT_AUTHOR_DATE", &date)
                .env("GIT_COMMITTER_DATE", &date)
                .args(args),
            0,
        )
    };
    for (name, time) in [("site", 1_500_000_000), ("other", 1_600_000_000)] {
        let dir = t.join(name);
        fs::create_dir(&dir).unwrap();
        git(&dir, &["init", "-q", "-b", "main"], 0);
        write(
            &dir,
            "index.shtml",
            "<!--#config timefmt=\"%s\" --><!--#flastmod virtual=\"/a.css\" -->\n",
        );
        write(&dir, "a.css", name);
        git(&dir, &["add", "-A"], 0);
        git(&dir, &["commit", "-q", "-m", name], time);
    }
    let site = t.join("site");
    let other = t.join("other");
    let r = run_expect(
        ssibake(t)
            .env("PATH", path())
            .env("HOME", &home)
            .env("GIT_DIR", other.join(".git"))
            .env("GIT_WORK_TREE", &other)
            .env("GIT_INDEX_FILE", t.join("no-such-index"))
            .env("GIT_OBJECT_DIRECTORY", t.join("no-such-objects"))
            .env("GIT_QUARANTINE_PATH", t.join("no-such-objects"))
            .args(["--root", "site", "--mtime-from", "git", "--strict-git"])
            .arg(site.join("index.shtml")),
        0,
    );
    assert_eq!(r.stdout_text(), "1500000000\n", "{}", r.stderr);
    // A relative GIT_DIR, as git gives its hooks (`GIT_DIR=.`).
    let r = run_expect(
        ssibake(&other)
            .env("PATH", path())
            .env("HOME", &home)
            .env("GIT_DIR", ".")
            .args(["--root", "../site", "--mtime-from", "git", "--strict-git"])
            .arg("../site/index.shtml"),
        0,
    );
    assert_eq!(r.stdout_text(), "1500000000\n", "{}", r.stderr);
}
