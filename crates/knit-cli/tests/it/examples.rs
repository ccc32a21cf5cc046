// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Every `sql/examples/*.sql` runs, and prints what `sql/examples/expected/<name>.out`
//! holds. `KNIT_BLESS=1` rewrites the expected files from the current output.

use crate::{knit, text, workspace_root};

#[test]
fn examples_print_their_expected_output() {
    let root = workspace_root();
    let mut scripts: Vec<_> = std::fs::read_dir(root.join("sql/examples"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "sql"))
        .collect();
    scripts.sort();
    assert!(!scripts.is_empty());
    let bless = std::env::var("KNIT_BLESS").is_ok_and(|v| v == "1");
    // The Delta example's table gains versions each time it runs; it is shown from
    // its first version.
    let _ = std::fs::remove_dir_all("/tmp/knit-example-delta");
    // The profile store example's first run is full; it starts from an empty store.
    let _ = std::fs::remove_dir_all("/tmp/knit-example-store");
    let _ = std::fs::remove_dir_all("/tmp/knit-example-store-changes");
    for script in scripts {
        let output = knit().arg("-q").arg("-f").arg(&script).output().unwrap();
        let (stdout, stderr) = text(&output);
        assert!(output.status.success(), "{}: {stderr}", script.display());
        let stem = script.file_stem().unwrap().to_string_lossy().into_owned();
        let expected_path = root
            .join("sql/examples/expected")
            .join(format!("{stem}.out"));
        if bless {
            std::fs::create_dir_all(expected_path.parent().unwrap()).unwrap();
            std::fs::write(&expected_path, &stdout).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (write it with KNIT_BLESS=1)",
                expected_path.display()
            )
        });
        assert_eq!(
            stdout,
            expected,
            "{} differs from {}",
            script.display(),
            expected_path.display()
        );
    }
}
