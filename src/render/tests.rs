use super::*;

/// Load a desired state from `(path, text)` files.
pub(crate) fn loaded(files: &[(&str, &str)]) -> Result<Loaded, Vec<String>> {
    let mut f = SourceFiles::default();
    for (name, text) in files {
        f.files.insert((*name).into(), text.as_bytes().to_vec());
    }
    load(&f).map_err(|e| e.iter().map(ToString::to_string).collect())
}

/// Issue 9: a confirm window VyOS cannot express is refused where it was written (here the
/// fleet defaults), with the nearest whole minutes.
#[test]
fn a_confirm_window_from_the_fleet_defaults_is_checked_where_written() {
    const HEAD: &str = "name: a\ndictionary: vyos-1.4\nendpoint:\n  transport: vyos-http\n  host: 127.0.0.1\n  api_key: env:K\nowns: [nat destination]\n";
    let fleet = "defaults:\n  commit: {confirm_window: 150s}\n";
    let mut files = crate::source::SourceFiles::default();
    files
        .files
        .insert("appliances/a.yaml".into(), HEAD.as_bytes().to_vec());
    files
        .files
        .insert("vnfsync.yaml".into(), fleet.as_bytes().to_vec());
    let e = load(&files).expect_err("150s");
    assert_eq!(
        (e[0].file.as_str(), e[0].line, e[0].path.as_str()),
        ("vnfsync.yaml", 2, "defaults.commit.confirm_window")
    );
    assert!(e[0].message.ends_with("use 2m or 3m"), "{}", e[0].message);
}
