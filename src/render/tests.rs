use super::*;

/// Load a desired state from `(path, text)` files.
pub(crate) fn loaded(files: &[(&str, &str)]) -> Result<Loaded, Vec<String>> {
    let mut f = SourceFiles::default();
    for (name, text) in files {
        f.files.insert((*name).into(), text.as_bytes().to_vec());
    }
    load(&f).map_err(|e| e.iter().map(ToString::to_string).collect())
}
