//! Versions that change only when content changes: real git repositories made in
//! temporary directories (commit times fixed per commit), cloned twice with
//! different file times to stand for two servers or two deploys, then baked.
//!
//! `--mtime-from git`, `#fhash` and `#frev` give byte-identical output and
//! manifests across the clones; `fs` does not (which is why the option exists).
//! After a commit that changes one of N assets, exactly one URL changes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_ssibake");

/// Runs git in `dir` with a fixed identity and commit time, and no user config.
fn git(dir: &Path, args: &[&str], time: i64) {
    let date = format!("@{time} +0000");
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_DATE", &date)
        .env("GIT_COMMITTER_DATE", &date)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A repository whose `site/` is the document root.
struct Repo {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Repo {
    fn new(files: &[(&str, String)], time: i64) -> Repo {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("origin");
        std::fs::create_dir(&dir).unwrap();
        git(&dir, &["init", "-q", "-b", "main"], 0);
        let repo = Repo { _tmp: tmp, dir };
        repo.commit(files, time);
        repo
    }

    /// Writes `files` (paths under `site/`) and commits them at `time`.
    fn commit(&self, files: &[(&str, String)], time: i64) {
        for (path, content) in files {
            let p = self.dir.join("site").join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        }
        git(&self.dir, &["add", "-A"], time);
        git(&self.dir, &["commit", "-qm", &format!("at {time}")], time);
    }

    /// A fresh clone whose every file has modification time `mtime`, as a
    /// checkout made at that moment would.
    fn clone_at(&self, into: &Path, mtime: i64) -> PathBuf {
        let url = format!("file://{}", self.dir.display());
        let dst = into.to_path_buf();
        git(
            into.parent().unwrap(),
            &["clone", "-q", &url, dst.to_str().unwrap()],
            0,
        );
        set_all_mtimes(&dst.join("site"), mtime);
        dst
    }
}

fn set_all_mtimes(dir: &Path, mtime: i64) {
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            filetime::set_file_mtime(entry.path(), filetime::FileTime::from_unix_time(mtime, 0))
                .unwrap();
        }
    }
}

/// The `SOURCE_DATE_EPOCH` every run sees unless a test says otherwise.
const SDE: &str = "1700000000";

fn ssibake(args: &[&str]) -> Output {
    ssibake_at(args, SDE)
}

fn ssibake_at(args: &[&str], source_date_epoch: &str) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("TZ")
        .env("SOURCE_DATE_EPOCH", source_date_epoch)
        .output()
        .expect("ssibake runs")
}

/// Bakes `clone/site` into `out` with `extra` flags and a manifest at
/// `out.manifest.json`; the whole output tree, the manifest and its details.
struct Baked {
    files: BTreeMap<String, Vec<u8>>,
    mtimes: BTreeMap<String, i64>,
    manifest: String,
    details: String,
    stderr: String,
}

fn bake(clone: &Path, out: &Path, extra: &[&str]) -> Baked {
    bake_at(clone, out, extra, SDE)
}

fn bake_at(clone: &Path, out: &Path, extra: &[&str], source_date_epoch: &str) -> Baked {
    let manifest = out.with_extension("manifest.json");
    let root = clone.join("site");
    let mut args = vec![
        "--root",
        root.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--manifest",
        manifest.to_str().unwrap(),
        "--quiet",
    ];
    args.extend_from_slice(extra);
    let o = ssibake_at(&args, source_date_epoch);
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "ssibake {args:?}: {stderr}");
    let mut files = BTreeMap::new();
    let mut mtimes = BTreeMap::new();
    for entry in walkdir::WalkDir::new(out).sort_by_file_name() {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let rel = entry
                .path()
                .strip_prefix(out)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            // ssibake's own record (stat stamps, not served) differs by machine.
            if rel.starts_with(".ssibake/") {
                continue;
            }
            let meta = entry.metadata().unwrap();
            mtimes.insert(
                rel.clone(),
                filetime::FileTime::from_last_modification_time(&meta).unix_seconds(),
            );
            files.insert(rel, std::fs::read(entry.path()).unwrap());
        }
    }
    let details = manifest.with_file_name(
        manifest
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace(".json", ".details.json"),
    );
    Baked {
        files,
        mtimes,
        manifest: std::fs::read_to_string(&manifest).unwrap(),
        details: std::fs::read_to_string(details).unwrap(),
        stderr,
    }
}

fn text(b: &Baked, path: &str) -> String {
    String::from_utf8(b.files[path].clone()).unwrap()
}

/// Lines that differ between two versions of a page (same number of lines).
fn changed_lines(a: &str, b: &str) -> usize {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    assert_eq!(a.len(), b.len());
    a.iter().zip(&b).filter(|(x, y)| x != y).count()
}

/// A site of `n` stylesheets and three pages naming each of them once per line:
/// with `flastmod`, `fhash` and `frev`.
fn site(n: usize, changed: Option<usize>) -> Vec<(&'static str, String)> {
    let mut files: Vec<(&'static str, String)> = Vec::new();
    let mut stamp = String::from("<!--#config timefmt=\"%s\" -->");
    let mut hash = String::new();
    let mut rev = String::new();
    for i in 0..n {
        let name: &'static str = Box::leak(format!("css/a{i:03}.css").into_boxed_str());
        let body = if changed == Some(i) {
            format!(".a{i} {{ color: red }}\n")
        } else {
            format!(".a{i} {{ color: blue }}\n")
        };
        files.push((name, body));
        stamp += &format!("<link href=\"/{name}?<!--#flastmod virtual=\"/{name}\" -->\">\n");
        hash += &format!("<link href=\"/{name}?<!--#fhash virtual=\"/{name}\" -->\">\n");
        rev += &format!("<link href=\"<!--#frev virtual=\"/{name}\" -->\">\n");
    }
    stamp += "<p>updated <!--#echo var=\"LAST_MODIFIED\" --></p>\n";
    files.push(("stamp.shtml", stamp));
    files.push(("hash.shtml", hash));
    files.push(("rev.shtml", rev));
    files
}

#[test]
fn git_times_are_the_same_in_every_clone_and_fs_times_are_not() {
    let repo = Repo::new(&site(3, None), 1_600_000_000);
    let tmp = tempfile::tempdir().unwrap();
    let a = repo.clone_at(&tmp.path().join("a"), 1_000_000_000);
    let b = repo.clone_at(&tmp.path().join("b"), 1_500_000_000);
    let flags = ["--mtime-from", "git", "--stable-mtimes"];
    let ga = bake(&a, &tmp.path().join("out-a"), &flags);
    let gb = bake(&b, &tmp.path().join("out-b"), &flags);
    assert_eq!(ga.files, gb.files, "byte-identical output");
    assert_eq!(ga.manifest, gb.manifest);
    assert_eq!(ga.details, gb.details);
    assert!(text(&ga, "stamp.html").contains("/css/a000.css?1600000000\""));
    assert!(text(&ga, "stamp.html").contains("updated 1600000000"));
    // Stable times: every page at the commit time, on both "servers".
    for page in ["stamp.html", "hash.html", "rev.html"] {
        assert_eq!(ga.mtimes[page], 1_600_000_000, "{page}");
        assert_eq!(gb.mtimes[page], 1_600_000_000, "{page}");
    }
    assert!(
        ga.stderr.lines().all(|l| !l.contains(": warning")),
        "{}",
        ga.stderr
    );
    // Every served file, copied stylesheets and revved copies too, has the same
    // time on both servers, so ETag and Last-Modified agree everywhere.
    let served = |b: &Baked| -> BTreeMap<String, i64> {
        b.mtimes
            .iter()
            .filter(|(k, _)| !k.starts_with(".ssibake/"))
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    };
    assert_eq!(served(&ga), served(&gb));
    assert_eq!(ga.mtimes["css/a000.css"], 1_600_000_000);

    // Issue 10: two servers baked from clones of one commit, seconds apart and with
    // no SOURCE_DATE_EPOCH, publish the same version file (the build time is the
    // newest commit time, not the clock) and the same bytes and times everywhere.
    let extras = [
        "--mtime-from",
        "git",
        "--stable-mtimes",
        "--version-file",
        "version.json",
        "--emit-client",
        "ssibake-client.js",
    ];
    let va = bake_at(&a, &tmp.path().join("v-a"), &extras, "");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let vb = bake_at(&b, &tmp.path().join("v-b"), &extras, "");
    let public = |b: &Baked| -> BTreeMap<String, Vec<u8>> {
        b.files
            .iter()
            .filter(|(k, _)| !k.starts_with(".ssibake/"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    assert_eq!(
        public(&va),
        public(&vb),
        "byte-identical, version file included"
    );
    assert_eq!(served(&va), served(&vb), "the same time for every file");
    assert!(
        text(&va, "version.json").contains("\"builtAt\":\"2020-09-13T12:26:40Z\""),
        "{}",
        text(&va, "version.json")
    );
    assert_eq!(va.mtimes["version.json"], 1_600_000_000);
    assert_eq!(va.mtimes["ssibake-client.js"], 1_600_000_000);

    // Apache's file times: the two clones print different versions for the
    // same content, so every cache-busting URL changes between servers.
    let fa = bake(&a, &tmp.path().join("fs-a"), &[]);
    let fb = bake(&b, &tmp.path().join("fs-b"), &[]);
    let (sa, sb) = (text(&fa, "stamp.html"), text(&fb, "stamp.html"));
    assert!(sa.contains("?1000000000\""));
    assert!(sb.contains("?1500000000\""));
    assert_eq!(changed_lines(&sa, &sb), 4, "3 URLs and LAST_MODIFIED");
    assert_ne!(fa.details, fb.details);
    // Content fingerprints never depend on times, whatever the source.
    assert_eq!(text(&fa, "hash.html"), text(&fb, "hash.html"));
    assert_eq!(text(&fa, "rev.html"), text(&fb, "rev.html"));
    assert_eq!(fa.manifest, fb.manifest);
}

#[test]
fn fingerprints_are_identical_across_clones_and_revved_files_exist() {
    let repo = Repo::new(&site(3, None), 1_600_000_000);
    let tmp = tempfile::tempdir().unwrap();
    let a = repo.clone_at(&tmp.path().join("a"), 1_000_000_000);
    let b = repo.clone_at(&tmp.path().join("b"), 1_500_000_000);
    let flags = ["--mtime-from", "git"];
    let ga = bake(&a, &tmp.path().join("out-a"), &flags);
    let gb = bake(&b, &tmp.path().join("out-b"), &flags);
    assert_eq!(ga.files, gb.files);
    assert_eq!((&ga.manifest, &ga.details), (&gb.manifest, &gb.details));

    // `sha256sum css/a000.css | cut -c1-10`, computed here without the tool.
    let digest = hmac_sha256::Hash::hash(b".a0 { color: blue }\n");
    let full: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let short = &full[..10];
    assert!(text(&ga, "hash.html").contains(&format!("/css/a000.css?{short}\"")));
    let revved = format!("css/a000.{short}.css");
    assert!(text(&ga, "rev.html").contains(&format!("href=\"/{revved}\"")));
    // The revved copy is in the output beside the original, with its content.
    assert_eq!(ga.files[&revved], ga.files["css/a000.css"]);
    // The flat manifest, as gulp-rev writes it, and the details beside it.
    let flat: BTreeMap<String, String> = serde_json::from_str(&ga.manifest).unwrap();
    assert_eq!(flat["css/a000.css"], revved);
    assert_eq!(flat.len(), 3);
    let details: serde_json::Value = serde_json::from_str(&ga.details).unwrap();
    let entry = &details["assets"]["css/a000.css"];
    assert_eq!(entry["sha256"], full.as_str());
    assert_eq!(entry["size"], 20);
    assert_eq!(entry["mtime"], 1_600_000_000);
    assert_eq!(details["mtimeFrom"], "git");
}

#[test]
fn a_commit_changing_one_asset_changes_exactly_one_url() {
    let n = 8;
    let repo = Repo::new(&site(n, None), 1_600_000_000);
    let tmp = tempfile::tempdir().unwrap();
    let before = repo.clone_at(&tmp.path().join("before"), 1_000_000_000);
    repo.commit(&site(n, Some(5)), 1_600_086_400);
    let after = repo.clone_at(&tmp.path().join("after"), 1_500_000_000);
    let g1 = bake(&before, &tmp.path().join("g1"), &["--mtime-from", "git"]);
    let g2 = bake(&after, &tmp.path().join("g2"), &["--mtime-from", "git"]);
    let (s1, s2) = (text(&g1, "stamp.html"), text(&g2, "stamp.html"));
    // The asset's URL, and LAST_MODIFIED (the page itself was rewritten by the
    // commit: `site()` writes it again with the same content, so it did not change).
    assert_eq!(changed_lines(&s1, &s2), 1, "{s1}\n---\n{s2}");
    assert!(s2.contains("/css/a005.css?1600086400\""));
    for page in ["hash.html", "rev.html"] {
        assert_eq!(
            changed_lines(&text(&g1, page), &text(&g2, page)),
            1,
            "{page}"
        );
    }
    let m1: BTreeMap<String, String> = serde_json::from_str(&g1.manifest).unwrap();
    let m2: BTreeMap<String, String> = serde_json::from_str(&g2.manifest).unwrap();
    let differ: Vec<&String> = m1.keys().filter(|k| m1[*k] != m2[*k]).collect();
    assert_eq!(differ, ["css/a005.css"]);
}

#[test]
fn untracked_and_modified_files_fall_back_with_a_warning_or_fail_when_strict() {
    let repo = Repo::new(&site(2, None), 1_600_000_000);
    let tmp = tempfile::tempdir().unwrap();
    let a = repo.clone_at(&tmp.path().join("a"), 1_000_000_000);
    let site = a.join("site");
    std::fs::write(site.join("css/a001.css"), ".changed {}\n").unwrap();
    std::fs::write(
        site.join("new.shtml"),
        "<!--#config timefmt=\"%s\" --><!--#flastmod virtual=\"/css/a000.css\" -->",
    )
    .unwrap();
    set_all_mtimes(&site, 1_000_000_000);
    let b = bake(&a, &tmp.path().join("out"), &["--mtime-from", "git"]);
    assert!(
        b.stderr.contains(
            "warning: `css/a001.css` differs from the last commit (modified or staged); using its file time"
        ),
        "{}",
        b.stderr
    );
    assert!(b
        .stderr
        .contains("warning: `new.shtml` is not in the git history"));
    assert!(text(&b, "stamp.html").contains("/css/a000.css?1600000000\""));
    assert!(text(&b, "stamp.html").contains("/css/a001.css?1000000000\""));

    let root = site.to_str().unwrap().to_string();
    let out = tmp.path().join("strict");
    let strict = [
        "--root",
        &root,
        "--out",
        out.to_str().unwrap(),
        "--mtime-from",
        "git",
        "--strict-git",
    ];
    let o = ssibake(&strict);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("`css/a001.css` differs from the last commit (modified or staged), and --strict-git wants every time from git"),
        "{err}"
    );
    assert!(!out.exists(), "nothing written");
    // Its own stable code, for CI annotations.
    let o = ssibake(&[&strict[..], &["--message-format", "json"]].concat());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("\"code\":\"not-in-git\""), "{err}");
}

#[test]
fn epoch_needs_source_date_epoch_and_strict_git_needs_git() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("i.shtml"),
        "<!--#config timefmt=\"%s\" --><!--#flastmod file=\"i.shtml\" -->",
    )
    .unwrap();
    let root = tmp.path().to_str().unwrap();
    let page = tmp.path().join("i.shtml");
    let o = Command::new(BIN)
        .args(["--root", root, "--mtime-from", "epoch"])
        .arg(&page)
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("needs SOURCE_DATE_EPOCH"));
    let o = ssibake(&[
        "--root",
        root,
        "--mtime-from",
        "epoch",
        page.to_str().unwrap(),
    ]);
    assert_eq!(o.stdout, b"1700000000");
    let o = ssibake(&["--root", root, "--strict-git", page.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let o = ssibake(&[
        "--root",
        root,
        "--mtime-from",
        "git",
        page.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not in a git work tree"));
}

#[test]
fn in_place_writes_revved_files_beside_the_originals_with_stable_times() {
    let repo = Repo::new(&site(2, None), 1_600_000_000);
    let tmp = tempfile::tempdir().unwrap();
    let a = repo.clone_at(&tmp.path().join("a"), 1_000_000_000);
    let site = a.join("site");
    let manifest = tmp.path().join("rev-manifest.json");
    let o = ssibake(&[
        "--root",
        site.to_str().unwrap(),
        "--in-place",
        "--mtime-from",
        "git",
        "--stable-mtimes",
        "--manifest",
        manifest.to_str().unwrap(),
        site.join("rev.shtml").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let flat: BTreeMap<String, String> =
        serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    for (file, revved) in &flat {
        assert_ne!(file, revved);
        assert_eq!(
            std::fs::read(site.join(revved)).unwrap(),
            std::fs::read(site.join(file)).unwrap()
        );
    }
    let page = std::fs::read_to_string(site.join("rev.shtml")).unwrap();
    assert!(page.contains(&format!("href=\"/{}\"", flat["css/a000.css"])));
    let meta = std::fs::metadata(site.join("rev.shtml")).unwrap();
    assert_eq!(
        filetime::FileTime::from_last_modification_time(&meta).unix_seconds(),
        1_600_000_000
    );
    assert!(tmp.path().join("rev-manifest.details.json").exists());
}

/// The figures of the README's "Choosing a version source": 500 assets, one
/// changed by a commit, each source baked from a fresh clone before and after.
#[test]
#[ignore = "a measurement, not a check: prints the README figures (500-asset site, two clones, twelve bakes, a few seconds); run with `cargo test --test versions -- --ignored --nocapture`"]
fn measure_urls_changed_by_one_asset_commit() {
    let n = 500;
    let repo = Repo::new(&site(n, None), 1_600_000_000);
    let tmp = tempfile::tempdir().unwrap();
    let before = repo.clone_at(&tmp.path().join("before"), 1_000_000_000);
    repo.commit(&site(n, Some(250)), 1_600_086_400);
    let after = repo.clone_at(&tmp.path().join("after"), 1_500_000_000);
    let urls = |page: &str, b1: &Baked, b2: &Baked| {
        // The LAST_MODIFIED line is not a URL.
        let (x, y) = (text(b1, page), text(b2, page));
        x.lines()
            .zip(y.lines())
            .filter(|(p, q)| p != q && p.contains("href"))
            .count()
    };
    let mut rows = Vec::new();
    // (label, page, flags, SOURCE_DATE_EPOCH before and after the commit)
    let mut run = |label: &str, page: &str, flags: &[&str], sde: Option<(&str, &str)>| {
        let (sde_before, sde_after) = sde.unwrap_or((SDE, SDE));
        let mut all = flags.to_vec();
        if sde.is_some() {
            all.extend(["--mtime-from", "epoch"]);
        }
        let name = label.replace(|c: char| !c.is_ascii_alphanumeric(), "_");
        let b1 = bake_at(
            &before,
            &tmp.path().join(format!("{name}-1")),
            &all,
            sde_before,
        );
        let b2 = bake_at(
            &after,
            &tmp.path().join(format!("{name}-2")),
            &all,
            sde_after,
        );
        let changed = urls(page, &b1, &b2);
        rows.push(format!("{label:<44} {changed:>4} of {n}"));
    };
    run("fs (flastmod, fresh clones)", "stamp.html", &[], None);
    run(
        "git (flastmod)",
        "stamp.html",
        &["--mtime-from", "git"],
        None,
    );
    run(
        "epoch, SOURCE_DATE_EPOCH fixed",
        "stamp.html",
        &[],
        Some(("1700000000", "1700000000")),
    );
    run(
        "epoch, SOURCE_DATE_EPOCH = HEAD commit time",
        "stamp.html",
        &[],
        Some(("1600000000", "1600086400")),
    );
    run("fhash", "hash.html", &[], None);
    run("frev", "rev.html", &[], None);
    println!("URLs changed after a commit changing 1 of {n} assets:");
    for r in &rows {
        println!("  {r}");
    }
    assert!(rows[0].contains(" 500 of"));
    assert!(rows[1].contains("   1 of"));
    assert!(rows[2].contains("   0 of") && rows[3].contains(" 500 of"));
    assert!(rows[4].contains("   1 of") && rows[5].contains("   1 of"));
}

/// Issue 11: a shallow clone (CI's default depth 1) says so once, with the fix,
/// instead of once per file; under --strict-git an old template and an old asset
/// fail alike (`not-in-git`, exit 1) with the same advice.
#[test]
fn a_shallow_clone_is_reported_once_with_the_fix() {
    let repo = Repo::new(&site(30, None), 1_600_000_000);
    repo.commit(&[("new.txt", "new".to_string())], 1_600_000_100);
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("file://{}", repo.dir.display());
    let clone = tmp.path().join("shallow");
    git(
        tmp.path(),
        &["clone", "-q", "--depth", "1", &url, clone.to_str().unwrap()],
        0,
    );
    let b = bake(&clone, &tmp.path().join("out"), &["--mtime-from", "git"]);
    let warnings: Vec<&str> = b
        .stderr
        .lines()
        .filter(|l| l.starts_with("ssibake: warning"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", b.stderr);
    assert!(
        warnings[0].contains("this is a shallow clone: 33 files")
            && warnings[0].contains("fetch-depth: 0"),
        "{}",
        warnings[0]
    );

    let root = clone.join("site");
    let o = ssibake_at(
        &[
            "--root",
            root.to_str().unwrap(),
            "--out",
            tmp.path().join("strict").to_str().unwrap(),
            "--mtime-from",
            "git",
            "--strict-git",
        ],
        SDE,
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("cannot read"), "{stderr}");
    assert!(!stderr.contains("commit the file"), "{stderr}");
    assert!(stderr.contains("git fetch --unshallow"), "{stderr}");
}
