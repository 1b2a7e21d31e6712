//! The build identity of issue 5: `BUILD_ID` (a hash of the inputs unless
//! `--build-id` is given), `BUILD_DATE` from `SOURCE_DATE_EPOCH`, and the version
//! file written beside the pages.

use std::process::Command;

fn bake(root: &std::path::Path, out: &std::path::Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ssibake"))
        .env_clear()
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .arg("--root")
        .arg(root)
        .arg("--out")
        .arg(out)
        .args(["--version-file", "/version.json"])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn build_id_date_and_version_file() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    std::fs::create_dir(&site).unwrap();
    std::fs::write(
        site.join("index.shtml"),
        "<meta name=\"build-id\" content=\"<!--#echo var=\"BUILD_ID\" -->\"> <!--#echo var=\"BUILD_DATE\" -->",
    )
    .unwrap();
    std::fs::write(site.join("app.js"), "1").unwrap();

    let out = dir.path().join("dist");
    let run = bake(&site, &out, &["--build-id", "deadbeef"]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let page = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert_eq!(
        page,
        "<meta name=\"build-id\" content=\"deadbeef\"> 2023-11-14T22:13:20Z"
    );
    let version = std::fs::read_to_string(out.join("version.json")).unwrap();
    assert_eq!(
        version,
        "{\"buildId\":\"deadbeef\",\"builtAt\":\"2023-11-14T22:13:20Z\"}\n"
    );

    // Without --build-id: a hash of the inputs, stable across identical bakes,
    // different when an asset changes.
    let id = |out: &std::path::Path| {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("version.json")).unwrap())
                .unwrap();
        v["buildId"].as_str().unwrap().to_string()
    };
    assert!(bake(&site, &out, &[]).status.success());
    let first = id(&out);
    assert_eq!(first.len(), 16);
    assert!(std::fs::read_to_string(out.join("index.html"))
        .unwrap()
        .contains(&first));
    assert!(bake(&site, &out, &[]).status.success());
    assert_eq!(id(&out), first, "an identical rebake keeps the ID");
    std::fs::write(site.join("app.js"), "2").unwrap();
    assert!(bake(&site, &out, &[]).status.success());
    assert_ne!(id(&out), first, "a changed asset changes the ID");
}
