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

/// A crate's modules and what each imports, read from its sources: `crate::a::b` paths
/// (also inside `use crate::{…}` groups), `super::` paths, and a module's `pub use child::…`
/// re-exports. Test modules (`#[cfg(test)] mod tests`, at the end of a file by this
/// project's convention) are left out: a test may import anything.
struct ModuleGraph {
    /// `a::b` for `src/a/b.rs` or `src/a/b/mod.rs`; `` for `src/lib.rs`.
    modules: Vec<String>,
    edges: std::collections::BTreeSet<(String, String)>,
    /// `crate::Item` where `Item` is no module: a path through the crate root's re-exports.
    through_root: Vec<String>,
}

/// The code of a file without its test module and its comments.
fn code_of(text: &str) -> String {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or_default();
    text.lines().map(|line| line.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n")
}

/// The paths of a `use` group's content (`a::b, c::{d, e}`), each prefixed.
fn expand_group(prefix: &str, group: &str, out: &mut Vec<String>) {
    let (mut depth, mut start) = (0, 0);
    let mut parts = Vec::new();
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&group[start..]);
    for part in parts.into_iter().map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once("::{") {
            Some((head, rest)) => expand_group(&format!("{prefix}{head}::"), rest.trim_end_matches('}'), out),
            None => out.push(format!("{prefix}{part}")),
        }
    }
}

/// Every `crate::…` and `super::…` path in `code` (`use` groups expanded), as written.
fn paths_in(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    for anchor in ["crate::", "super::"] {
        for (at, _) in code.match_indices(anchor) {
            if code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':') {
                continue; // `super::super::` or `$crate::`, judged from its first segment
            }
            let rest = &code[at..];
            if let Some(open) =
                rest.find("::{").filter(|open| !rest[..*open].contains(|c: char| c.is_whitespace() || c == ';'))
            {
                let mut depth = 0;
                let close = rest[open + 2..]
                    .char_indices()
                    .find_map(|(i, c)| {
                        match c {
                            '{' => depth += 1,
                            '}' => depth -= 1,
                            _ => {}
                        }
                        (depth == 0).then_some(open + 2 + i)
                    })
                    .unwrap_or(rest.len() - 1);
                expand_group(&format!("{}::", &rest[..open]), &rest[open + 3..close], &mut out);
            } else {
                let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(rest.len());
                out.push(rest[..end].trim_end_matches(':').to_string());
            }
        }
    }
    out
}

impl ModuleGraph {
    /// The crate whose root is `root_file` (`src/lib.rs`, or a binary's `src/main.rs`): its
    /// modules are the `mod name;` declarations followed from the root.
    fn of_crate(root_file: &Path) -> Self {
        // (file, module path), found by following `mod x;` from the root.
        let mut found: Vec<(std::path::PathBuf, String)> = Vec::new();
        let mut queue = vec![(root_file.to_path_buf(), String::new())];
        while let Some((file, module)) = queue.pop() {
            let code = code_of(&std::fs::read_to_string(&file).unwrap_or_default());
            let is_dir_module =
                module.is_empty() || file.file_name().is_some_and(|n| n == "mod.rs" || n == "lib.rs" || n == "main.rs");
            let dir = if is_dir_module { file.parent().unwrap().to_path_buf() } else { file.with_extension("") };
            for line in code.lines().map(str::trim) {
                let Some(name) = line.strip_prefix("pub mod ").or_else(|| line.strip_prefix("mod ")) else { continue };
                let Some(name) = name.strip_suffix(';') else { continue };
                let child = if module.is_empty() { name.to_string() } else { format!("{module}::{name}") };
                let flat = dir.join(format!("{name}.rs"));
                let folder = dir.join(name).join("mod.rs");
                let path = if flat.exists() { flat } else { folder };
                queue.push((path, child));
            }
            found.push((file, module));
        }
        let files: Vec<std::path::PathBuf> = found.iter().map(|(f, _)| f.clone()).collect();
        let module_of = |path: &Path| found.iter().find(|(f, _)| f == path).map(|(_, m)| m.clone()).unwrap_or_default();
        let mut modules: Vec<String> = files.iter().map(|f| module_of(f)).collect();
        modules.sort();
        let known = |path: &str| modules.iter().any(|m| m == path);
        let mut graph = ModuleGraph { modules: modules.clone(), edges: Default::default(), through_root: Vec::new() };
        // Items the crate root defines itself (a test crate's helpers): a path to one of them
        // depends on the root; a path to anything else at the root is a re-export.
        let root_code = code_of(&std::fs::read_to_string(root_file).unwrap_or_default());
        let defined_at_root = |name: &str| {
            ["fn", "struct", "enum", "const", "static", "type", "trait"]
                .iter()
                .any(|kind| root_code.contains(&format!("{kind} {name}")))
        };
        for file in &files {
            let module = module_of(file);
            let code = code_of(&std::fs::read_to_string(file).unwrap());
            let is_dir_module = file.file_name().is_some_and(|n| n == "mod.rs" || n == "lib.rs" || n == "main.rs");
            let mut targets = Vec::new();
            for path in paths_in(&code) {
                let mut segments: Vec<&str> = path.split("::").collect();
                let mut base: Vec<&str> = if module.is_empty() { Vec::new() } else { module.split("::").collect() };
                match segments.first() {
                    Some(&"crate") => {
                        segments.remove(0);
                        base.clear();
                    }
                    Some(&"super") => {
                        while segments.first() == Some(&"super") {
                            segments.remove(0);
                            base.pop();
                        }
                    }
                    _ => continue,
                }
                let full: Vec<&str> = base.iter().copied().chain(segments.iter().copied()).collect();
                // The longest prefix that is a module is what the path depends on.
                let target =
                    (0..=full.len()).rev().map(|n| full[..n].join("::")).find(|p| known(p)).unwrap_or_default();
                if target.is_empty() && !full.is_empty() && path.starts_with("crate::") && !defined_at_root(full[0]) {
                    graph.through_root.push(format!("{}: {path}", file.display()));
                }
                targets.push(target);
            }
            // `pub use child::Item` in a folder's module: the module depends on its child.
            if is_dir_module {
                for line in code.lines().map(str::trim) {
                    if let Some(rest) = line.strip_prefix("pub use ") {
                        let child = rest.split("::").next().unwrap_or_default();
                        let child = if module.is_empty() { child.to_string() } else { format!("{module}::{child}") };
                        if known(&child) {
                            targets.push(child);
                        }
                    }
                }
            }
            for target in targets {
                if target != module && !(module.is_empty() && target.is_empty()) {
                    graph.edges.insert((module.clone(), target));
                }
            }
        }
        graph
    }

    /// The strongly connected components of more than one module (Tarjan).
    fn cycles(&self) -> Vec<Vec<String>> {
        struct Walk<'a> {
            graph: &'a ModuleGraph,
            index: std::collections::HashMap<&'a str, usize>,
            low: std::collections::HashMap<&'a str, usize>,
            stack: Vec<&'a str>,
            on_stack: std::collections::HashSet<&'a str>,
            found: Vec<Vec<String>>,
        }
        impl<'a> Walk<'a> {
            fn visit(&mut self, node: &'a str) {
                let n = self.index.len();
                self.index.insert(node, n);
                self.low.insert(node, n);
                self.stack.push(node);
                self.on_stack.insert(node);
                let graph = self.graph;
                for (_, next) in graph.edges.iter().filter(|(from, _)| from == node) {
                    let next = next.as_str();
                    if !self.index.contains_key(next) {
                        self.visit(next);
                        let low = self.low[node].min(self.low[next]);
                        self.low.insert(node, low);
                    } else if self.on_stack.contains(next) {
                        let low = self.low[node].min(self.index[next]);
                        self.low.insert(node, low);
                    }
                }
                if self.low[node] == self.index[node] {
                    let mut component = Vec::new();
                    while let Some(top) = self.stack.pop() {
                        self.on_stack.remove(top);
                        component.push(if top.is_empty() { "<crate root>".to_string() } else { top.to_string() });
                        if top == node {
                            break;
                        }
                    }
                    if component.len() > 1 {
                        component.sort();
                        self.found.push(component);
                    }
                }
            }
        }
        let mut walk = Walk {
            graph: self,
            index: Default::default(),
            low: Default::default(),
            stack: Vec::new(),
            on_stack: Default::default(),
            found: Vec::new(),
        };
        for module in &self.modules {
            if !walk.index.contains_key(module.as_str()) {
                walk.visit(module);
            }
        }
        walk.found
    }
}

/// Issue 27: the shared crate's eight main modules and the token generator's five formed
/// import cycles. Every crate of the workspace is now layered: no module imports, directly
/// or through others, a module that imports it; and inside a crate nothing goes through
/// the root's re-exports (`crate::Item`), which would hide the real dependency.
#[test]
fn no_crate_of_the_workspace_has_an_import_cycle_between_its_modules() {
    // MODULE_GRAPH_ROOT=<another checkout> judges that tree instead (how the closing note of
    // issue 27 showed the cycles this test finds in the code before it).
    let root = std::env::var_os("MODULE_GRAPH_ROOT").map(std::path::PathBuf::from).unwrap_or_else(workspace_root);
    let crates = [
        "shared/src/lib.rs",
        "functions/token-generator/src/lib.rs",
        "functions/webhook-receiver/src/lib.rs",
        "functions/subtitle-dispatcher/src/lib.rs",
        "functions/local-server/src/lib.rs",
        "tests/src/lib.rs",
        "bench/src/lib.rs",
        "bench/src/main.rs",
    ];
    let mut problems = Vec::new();
    for krate in crates {
        let graph = ModuleGraph::of_crate(&root.join(krate));
        assert!(!graph.modules.is_empty(), "{krate}: no modules found");
        for cycle in graph.cycles() {
            problems.push(format!("{krate}: import cycle between {}", cycle.join(", ")));
        }
        for path in graph.through_root {
            problems.push(format!("{krate}: {path} goes through the crate root; name the defining module"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_module_graph_sees_each_kind_of_import() {
    let paths = paths_in("use crate::a::{b, c::{d, E}};\nuse super::f::G;\nlet x = crate::h::i(1);");
    assert_eq!(paths, ["crate::a::b", "crate::a::c::d", "crate::a::c::E", "crate::h::i", "super::f::G"]);
    // A cycle made on purpose, in a crate of two modules.
    let dir = std::env::temp_dir().join(format!("module-graph-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("src/lib.rs"), "pub mod a;\npub mod b;\n").unwrap();
    std::fs::write(dir.join("src/a.rs"), "use crate::b::B;\npub struct A;\n").unwrap();
    std::fs::write(
        dir.join("src/b.rs"),
        "pub struct B;\nfn f() -> crate::a::A { crate::a::A }\n#[cfg(test)]\nmod tests {\n use crate::Whatever;\n}\n",
    )
    .unwrap();
    let graph = ModuleGraph::of_crate(&dir.join("src/lib.rs"));
    assert_eq!(graph.cycles(), vec![vec!["a".to_string(), "b".to_string()]]);
    assert!(graph.through_root.is_empty(), "test modules are left out: {:?}", graph.through_root);
    std::fs::write(dir.join("src/b.rs"), "pub struct B;\nfn f() -> crate::A { todo!() }\n").unwrap();
    let graph = ModuleGraph::of_crate(&dir.join("src/lib.rs"));
    assert!(graph.cycles().is_empty());
    assert_eq!(graph.through_root.len(), 1, "{:?}", graph.through_root);
    std::fs::remove_dir_all(&dir).ok();
}

/// Every source file the docs, the README and the template name exists: a file that moves
/// (issue 27 moved many) cannot leave a page pointing at nothing.
#[test]
fn every_source_file_the_docs_name_exists() {
    let root = workspace_root();
    let mut pages: Vec<std::path::PathBuf> =
        ["README.md", "template.yaml", "infra/IAM.md", "bench/README.md"].iter().map(|p| root.join(p)).collect();
    pages.extend(
        std::fs::read_dir(root.join("docs"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "md")),
    );
    let mut missing = Vec::new();
    for page in pages {
        let text = std::fs::read_to_string(&page).unwrap();
        for (at, _) in text.match_indices(".rs") {
            let start = text[..at].rfind(|c: char| !(c.is_alphanumeric() || "/_-.".contains(c))).map_or(0, |i| i + 1);
            let path = &text[start..at + 3];
            let after = text[at + 3..].chars().next();
            if after.is_some_and(|c| c.is_alphanumeric()) || !path.contains("src/") && !path.starts_with("tests/") {
                continue;
            }
            if !root.join(path).exists() {
                missing.push(format!("{}: {path}", page.strip_prefix(&root).unwrap().display()));
            }
        }
    }
    assert!(missing.is_empty(), "pages name files that do not exist:\n{}", missing.join("\n"));
}
