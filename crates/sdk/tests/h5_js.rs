//! Runs the Node tests of the H5 signing modules (`tests/js/`, `node --test`): the browser
//! side of the protocol, against a stand-in page and server. Skipped, with a note, where
//! Node is not installed.

use std::io::ErrorKind;
use std::path::Path;
use std::process::Command;

#[test]
fn the_h5_signing_modules_pass_their_node_tests() {
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js");
    let output = match Command::new("node").arg("--test").arg(&tests).output() {
        Ok(output) => output,
        Err(error) if error.kind() == ErrorKind::NotFound => {
            eprintln!("node is not installed: the H5 signing tests in {tests:?} were skipped");
            return;
        }
        Err(error) => panic!("could not run node: {error}"),
    };
    assert!(
        output.status.success(),
        "node --test {tests:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
