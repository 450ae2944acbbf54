//! The repository is self-contained (issue 26): a clone in an empty folder passes
//! `make test`, so nothing the build, the tests or CI run may name a path outside it (the
//! folder beside the checkout is not part of the project, and a user's clone has none),
//! and a test run leaves every tracked file as it found it.

use std::path::{Component, Path, PathBuf};
use std::process::Command;

use wire_tests::workspace_root;

/// Where the build, the tests and CI live (the issue's list), and the files cargo, cargo-deny
/// and SAM read at the top.
const SCANNED: &[&str] = &[
    "Makefile",
    "infra",
    "tests",
    "bench",
    ".ci",
    "functions",
    "shared",
    "Cargo.toml",
    "deny.toml",
    "template.yaml",
    "samconfig.toml",
];

/// Prefixes that mean "the directory the command runs in": the Makefile runs at the root
/// and every script under `infra/` and `bench/` starts with `cd "$(dirname "$0")/.."`.
const WORKING_DIRECTORY: &[&str] = &["$(CURDIR)", "${CURDIR}", "$PWD", "${PWD}", "$(pwd)", "$(shell pwd)"];

/// One path in a file that leaves the repository: the file, its line, the path.
#[derive(Debug, PartialEq, Eq)]
struct Escape {
    file: String,
    line: usize,
    path: String,
}

/// `base/relative` with `..` applied; `None` when it climbs above the repository root
/// (`base` is relative to the root).
fn resolve(base: &Path, relative: &str) -> Option<PathBuf> {
    let mut parts: Vec<String> = base
        .components()
        .filter_map(|c| match c {
            Component::Normal(part) => Some(part.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    for segment in relative.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other.to_string()),
        }
    }
    Some(parts.iter().collect())
}

/// A character that cannot be part of a path written in a script, a Makefile, TOML, YAML,
/// Rust or JavaScript string.
fn ends_path(c: char) -> bool {
    c.is_whitespace()
        || matches!(c, '"' | '\'' | '`' | ',' | ';' | '(' | ')' | '[' | ']' | '{' | '}' | '<' | '>' | '=' | '|')
}

/// Every path in `text` (the contents of `file`, relative to the root) that leaves the
/// repository: a `..` that climbs above the root from the file's own directory, or from the
/// root when it follows a working-directory prefix (`$(CURDIR)/..`, `$PWD/..`); an absolute
/// path into the machine's `/work` folder; any mention of the folder beside the checkout.
fn escapes(file: &str, text: &str) -> Vec<Escape> {
    let dir = Path::new(file).parent().unwrap_or(Path::new(""));
    let mut found = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let mut flag =
            |path: &str| found.push(Escape { file: file.to_string(), line: number + 1, path: path.to_string() });
        for (at, _) in line.match_indices("../") {
            // The whole token the `../` belongs to.
            let start = line[..at].rfind(ends_path).map_or(0, |i| i + 1);
            let end = line[at..].find(ends_path).map_or(line.len(), |i| at + i);
            if line[start..at].contains("../") {
                continue; // the same token, already judged at its first `../`
            }
            let climbing = &line[at..end];
            let anchor = WORKING_DIRECTORY.iter().find(|prefix| line[..at].ends_with(&format!("{prefix}/")));
            let (shown, leaves) = match anchor {
                // Judged from both: a command may run at the root or in the file's folder.
                Some(prefix) => (
                    format!("{prefix}/{climbing}"),
                    resolve(dir, climbing).is_none() || resolve(Path::new(""), climbing).is_none(),
                ),
                // Another variable (`$HERE/..`) is judged from its `..`, a plain path whole,
                // both from the file's folder.
                None => {
                    let token = &line[start..end];
                    let relative = if line[start..at].contains('$') { climbing } else { token };
                    (token.to_string(), resolve(dir, relative).is_none())
                }
            };
            if leaves {
                flag(&shown);
            }
        }
        if line.contains("/work/") {
            flag("/work/…");
        }
        if line.contains("../shared/rustsec") || line.contains("shared/rustsec-advisory-db") {
            flag("the advisory snapshot beside the checkout");
        }
    }
    found
}

/// The tracked files under `SCANNED`, relative to the root.
fn tracked_files() -> Vec<String> {
    let root = workspace_root();
    let output = Command::new("git")
        .arg("-C")
        .arg(&root)
        .args(["ls-files", "-z", "--"])
        .args(SCANNED)
        .output()
        .expect("git runs (the tests run in a git checkout)");
    assert!(output.status.success(), "git ls-files: {}", String::from_utf8_lossy(&output.stderr));
    let files: Vec<String> = output
        .stdout
        .split(|b| *b == 0)
        .filter(|name| !name.is_empty())
        .map(|name| String::from_utf8_lossy(name).into_owned())
        .collect();
    assert!(files.len() > 50, "git ls-files found only {} files", files.len());
    files
}

#[test]
fn nothing_the_build_the_tests_or_ci_run_names_a_path_outside_the_repository() {
    let root = workspace_root();
    let mut found = Vec::new();
    for file in tracked_files() {
        // This file spells out the shapes it looks for.
        if file.ends_with("suite/repository.rs") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(root.join(&file)) else { continue }; // binary
        found.extend(escapes(&file, &text));
    }
    assert!(
        found.is_empty(),
        "these paths leave the repository (a user's clone has nothing beside it):\n{}",
        found.iter().map(|e| format!("  {}:{}: {}", e.file, e.line, e.path)).collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn the_scanner_finds_each_shape_of_escape_and_passes_paths_inside() {
    let paths = |file: &str, text: &str| escapes(file, text).into_iter().map(|e| e.path).collect::<Vec<_>>();
    // The shapes issue 26 found, and their neighbours.
    assert_eq!(
        paths("Makefile", "ADVISORY_DB_ARCHIVE ?= $(CURDIR)/../shared/rustsec-advisory-db.tar.gz"),
        ["$(CURDIR)/../shared/rustsec-advisory-db.tar.gz", "the advisory snapshot beside the checkout"]
    );
    assert_eq!(
        paths("infra/deny.sh", r#"local a="${X:-$PWD/../elsewhere/db.tar.gz}""#),
        ["$PWD/../elsewhere/db.tar.gz"]
    );
    assert_eq!(paths("tests/conformance/run.sh", "BIN=../../../target/x"), ["../../../target/x"]);
    assert_eq!(paths("Makefile", "cp ../x ."), ["../x"]);
    assert_eq!(paths("bench/run.sh", "cd /work/shared"), ["/work/…"]);
    // Inside the repository: each resolves below the root.
    for (file, text) in [
        ("bench/Cargo.toml", r#"wire-tests = { path = "../tests" }"#),
        ("tests/conformance/run.sh", r#"VENV=${CONFORMANCE_VENV:-$HERE/../.venv}"#),
        ("tests/conformance/lib/local-server.mjs", "path.resolve(CONFORMANCE_DIR, '../../target/debug/local-server')"),
        ("functions/token-generator/Cargo.toml", r#"x = { path = "../../shared" }"#),
        ("infra/IAM.md", "[room links'](../docs/room-links.md)"),
        ("Makefile", "ADVISORY_DB_ARCHIVE := $(CURDIR)/infra/advisory-db/rustsec-advisory-db.tar.gz"),
    ] {
        assert_eq!(paths(file, text), Vec::<String>::new(), "{file}: {text}");
    }
}

/// docs/development.md names every module of this suite (issue 26: it had lost three).
#[test]
fn the_development_guide_names_every_test_module() {
    let root = workspace_root();
    let main = std::fs::read_to_string(root.join("tests/tests/suite/main.rs")).expect("main.rs");
    let guide = std::fs::read_to_string(root.join("docs/development.md")).expect("docs/development.md");
    let modules: Vec<&str> =
        main.lines().filter_map(|l| l.strip_prefix("mod ").and_then(|m| m.strip_suffix(';'))).collect();
    assert!(modules.len() > 10, "{modules:?}");
    let missing: Vec<&&str> = modules.iter().filter(|m| !guide.contains(&format!("`{m}`"))).collect();
    assert!(missing.is_empty(), "docs/development.md does not name the test modules {missing:?}");
}

/// The README's endpoint table names every route of the route table, so a newcomer's curl
/// finds each (and the table cannot keep a route that went).
#[test]
fn the_readme_lists_every_route() {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).expect("README.md");
    let section = readme.split("## Endpoints").nth(1).expect("README.md has an Endpoints section");
    let section = section.split("\n## ").next().unwrap_or_default();
    for route in livekit_lambda_shared::routes::ROUTES {
        assert!(section.contains(route.path), "README.md's endpoint table does not name {}", route.path);
    }
}
