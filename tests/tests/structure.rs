//! The source's shape, read from the `crate::…` and `super::…` paths of every
//! file of the crates (outside their tests): the domain imports nothing else
//! of the crate and no AWS or HTTP library, and no file imports another that
//! imports it back, directly or round a loop.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A module's path in the crate: `["domain", "task"]` for `domain/task.rs`.
type Module = Vec<String>;

struct Crate {
    /// Each file's text up to its tests, comments removed.
    files: BTreeMap<Module, String>,
    /// `pub use child::Name` in a module: (module, name) → the child.
    reexports: BTreeMap<(Module, String), Module>,
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn code_of(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

fn module_of(root: &Path, file: &Path) -> Module {
    let relative = file.strip_prefix(root).unwrap().with_extension("");
    let mut parts: Module = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The identifiers of a path starting at `text` (`a::b::{c, d::e}` gives
/// `[a, b]` with the group's first identifiers `[c, d]`).
fn path_at(text: &str) -> (Vec<String>, Vec<String>) {
    let mut segments = Vec::new();
    let mut rest = text;
    loop {
        let ident: String = rest.chars().take_while(|c| is_ident(*c)).collect();
        if ident.is_empty() {
            break;
        }
        rest = &rest[ident.len()..];
        segments.push(ident);
        match rest.strip_prefix("::") {
            Some(after) => rest = after,
            None => return (segments, Vec::new()),
        }
    }
    let mut group = Vec::new();
    if let Some(inner) = rest.strip_prefix('{') {
        // Split at the commas of this group (not of a nested one), up to its `}`.
        let (mut depth, mut item) = (0, String::new());
        for c in inner.chars() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => group.push(std::mem::take(&mut item)),
                _ => item.push(c),
            }
        }
        group.push(item);
        group = group
            .iter()
            .map(|item| item.trim().chars().take_while(|c| is_ident(*c)).collect())
            .filter(|first: &String| !first.is_empty())
            .collect();
    }
    (segments, group)
}

impl Crate {
    /// The files of one crate, by module.
    fn read(roots: &[&Path]) -> Self {
        let mut paths = Vec::new();
        for root in roots {
            let mut found = Vec::new();
            rust_files(root, &mut found);
            paths.extend(found.into_iter().map(|p| (*root, p)));
        }
        let mut files: BTreeMap<Module, String> = BTreeMap::new();
        let mut reexports = BTreeMap::new();
        for (root, path) in paths {
            let module = module_of(root, &path);
            let code = code_of(&std::fs::read_to_string(&path).unwrap());
            for line in code.lines() {
                let Some(used) = line.trim().strip_prefix("pub use ") else {
                    continue;
                };
                let used = used.trim_start_matches("self::");
                let (segments, group) = path_at(used);
                let Some(child) = segments.first() else {
                    continue;
                };
                if child == "crate" || child == "super" || child.starts_with("tel_") {
                    continue;
                }
                let names = if group.is_empty() {
                    segments.last().into_iter().cloned().collect()
                } else {
                    group
                };
                let mut target = module.clone();
                target.push(child.clone());
                for name in names {
                    reexports.insert((module.clone(), name), target.clone());
                }
            }
            files.entry(module).or_default().push_str(&code);
        }
        Self { files, reexports }
    }

    /// The file a path names: its longest prefix that is a module, through
    /// the re-exports of that module.
    fn resolve(&self, segments: &[String]) -> Option<Module> {
        (1..=segments.len()).rev().find_map(|n| {
            let module = segments[..n].to_vec();
            if !self.files.contains_key(&module) {
                return None;
            }
            match segments.get(n) {
                Some(name) => match self.reexports.get(&(module.clone(), name.clone())) {
                    Some(target) => {
                        let mut followed = target.clone();
                        followed.extend_from_slice(&segments[n + 1..]);
                        self.resolve(&followed)
                    }
                    None => Some(module),
                },
                None => Some(module),
            }
        })
    }

    /// The other files `module` uses (its own ancestors aside: a module
    /// declares its children, it does not use them).
    fn uses(&self, module: &Module) -> BTreeSet<Module> {
        let code = &self.files[module];
        let mut out = BTreeSet::new();
        for (at, _) in code.match_indices("::") {
            let start = code[..at]
                .rfind(|c: char| !is_ident(c) && c != ':')
                .map_or(0, |i| i + 1);
            let path = &code[start..];
            let (mut base, rest) = if let Some(rest) = path.strip_prefix("crate::") {
                (Vec::new(), rest)
            } else if path.starts_with("super::") {
                let mut base = module.clone();
                let mut rest = path;
                while let Some(after) = rest.strip_prefix("super::") {
                    base.pop();
                    rest = after;
                }
                (base, rest)
            } else {
                continue;
            };
            // Each path once: from its start only.
            if start + (path.len() - rest.len()) != at + 2 {
                continue;
            }
            let (segments, group) = path_at(rest);
            base.extend(segments);
            let mut targets = vec![base.clone()];
            for item in group.into_iter().filter(|i| i != "self") {
                let mut target = base.clone();
                target.push(item);
                targets.push(target);
            }
            for target in targets {
                if let Some(found) = self.resolve(&target)
                    && !module.starts_with(&found)
                {
                    out.insert(found);
                }
            }
        }
        out
    }
}

fn workspace() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// One crate's sources, by its directory.
fn read(dir: &str) -> Crate {
    Crate::read(&[&workspace().join(dir).join("src")])
}

/// Every crate a function may link, each read on its own, by directory.
fn function_crates() -> Vec<(&'static str, Crate)> {
    vec![
        ("core", read("core")),
        ("engine", read("engine")),
        ("aws", read("aws")),
        ("runners", read("runners")),
        ("api", read("api")),
    ]
}

fn name(module: &Module) -> String {
    module.join("::")
}

#[test]
fn the_domain_imports_only_the_domain() {
    let source = read("core");
    let domain = vec!["domain".to_owned()];
    let mut outside = Vec::new();
    for module in source.files.keys().filter(|m| m.starts_with(&domain)) {
        for used in source.uses(module) {
            if !used.starts_with(&domain) {
                outside.push(format!("{} uses {}", name(module), name(&used)));
            }
        }
        for library in [
            "aws_sdk",
            "aws_smithy",
            "aws_config",
            "lambda_",
            "reqwest",
            "axum",
            "hyper",
        ] {
            if source.files[module].contains(library) {
                outside.push(format!("{} uses {library}", name(module)));
            }
        }
    }
    assert!(outside.is_empty(), "{outside:#?}");
    // The check sees the domain's own imports.
    assert!(
        source
            .uses(&vec!["domain".into(), "task".into()])
            .contains(&vec!["domain".to_owned(), "status".to_owned()])
    );
}

/// The core crate's own dependencies: no AWS SDK, no HTTP, no Lambda
/// runtime (the compiler then holds its code to the same).
#[test]
fn the_core_crate_depends_on_no_aws_or_http_library() {
    let manifest = std::fs::read_to_string(workspace().join("core/Cargo.toml")).unwrap();
    let dependencies: Vec<&str> = manifest
        .split("[dependencies]")
        .nth(1)
        .unwrap()
        .lines()
        .take_while(|l| !l.starts_with('['))
        .filter_map(|l| l.split(['.', '=', ' ']).next())
        .filter(|name| !name.is_empty())
        .collect();
    assert!(dependencies.contains(&"serde_json"), "{dependencies:?}");
    let forbidden: Vec<&&str> = dependencies
        .iter()
        .filter(|d| {
            [
                "aws", "lambda", "reqwest", "axum", "hyper", "tokio", "tower",
            ]
            .iter()
            .any(|f| d.starts_with(f))
        })
        .collect();
    assert!(forbidden.is_empty(), "tel-core depends on {forbidden:?}");
}

#[test]
fn no_file_imports_one_that_imports_it_back() {
    let source = read("engine");
    let graph = import_graph(&source);
    assert_eq!(import_loops(&graph), Vec::<String>::new(), "import loops");
    // The check sees imports across directories.
    let executor = vec!["handlers".to_owned(), "executor".to_owned()];
    assert!(
        graph[&executor].contains(&vec!["attempts".to_owned()]),
        "{:?}",
        graph[&executor]
    );
    // The other crates, each on its own, have none either.
    let local = read("local");
    let graph = import_graph(&local);
    assert_eq!(
        import_loops(&graph),
        Vec::<String>::new(),
        "import loops in tel-local"
    );
    assert!(graph[&vec!["runner".to_owned()]].contains(&vec!["poller".to_owned()]));
    for (crate_name, source) in function_crates() {
        let loops = import_loops(&import_graph(&source));
        assert_eq!(loops, Vec::<String>::new(), "import loops in {crate_name}");
    }
}

fn import_graph(source: &Crate) -> BTreeMap<Module, BTreeSet<Module>> {
    source
        .files
        .keys()
        .map(|m| (m.clone(), source.uses(m)))
        .collect()
}

/// Each loop as `a → b → a`.
fn import_loops(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<String> {
    // Depth-first; a module met again while still on the path closes a loop.
    fn visit(
        module: &Module,
        graph: &BTreeMap<Module, BTreeSet<Module>>,
        path: &mut Vec<Module>,
        done: &mut BTreeSet<Module>,
        loops: &mut Vec<String>,
    ) {
        if let Some(at) = path.iter().position(|m| m == module) {
            let mut cycle: Vec<String> = path[at..].iter().map(name).collect();
            cycle.push(name(module));
            loops.push(cycle.join(" → "));
            return;
        }
        if !done.insert(module.clone()) {
            return;
        }
        path.push(module.clone());
        for next in graph.get(module).into_iter().flatten() {
            visit(next, graph, path, done, loops);
        }
        path.pop();
    }
    let mut loops = Vec::new();
    let mut done = BTreeSet::new();
    for module in graph.keys() {
        visit(module, graph, &mut Vec::new(), &mut done, &mut loops);
    }
    loops
}

/// Business time comes from `Clock`, so tests move it instead of waiting.
/// `Instant` (elapsed real work: timeouts, cache ages) is not business time.
#[test]
fn every_now_comes_from_the_clock() {
    // Where the wall clock is the point: the clock itself; a metric record's
    // timestamp (CloudWatch files it by when it was written); a development
    // token (its `exp` is checked by the JWT library against the system
    // time). (The local harness, `tel-local`, plays AWS's own clocks and is
    // not read here.)
    let allowed = |crate_name: &str, m: &Module| {
        matches!(
            (crate_name, name(m).as_str()),
            ("core", "clock") | ("engine", "metrics") | ("api", "auth")
        )
    };
    let mut reads = Vec::new();
    let crates = function_crates();
    for (crate_name, source) in &crates {
        for (module, code) in &source.files {
            for wall in ["Utc::now()", "SystemTime::now()", "Local::now()"] {
                if code.contains(wall) && !allowed(crate_name, module) {
                    reads.push(format!("{crate_name}: {} reads {wall}", name(module)));
                }
            }
        }
    }
    assert!(reads.is_empty(), "{reads:#?}");
    assert!(crates[0].1.files[&vec!["clock".to_owned()]].contains("Utc::now()"));
    assert!(crates[1].1.files[&vec!["metrics".to_owned()]].contains("Utc::now()"));
    let api = &crates.iter().find(|(name, _)| *name == "api").unwrap().1;
    assert!(api.files[&vec!["auth".to_owned()]].contains("Utc::now()"));
}

/// Every file of the product's crates (not the tests, the bench or the
/// adapters that implement the store) by path, code only.
fn product_files() -> Vec<(String, String)> {
    let mut dirs: Vec<std::path::PathBuf> = ["core", "engine", "api", "runners", "local", "cli"]
        .iter()
        .map(|dir| workspace().join(dir).join("src"))
        .collect();
    for entry in std::fs::read_dir(workspace().join("functions")).unwrap() {
        dirs.push(entry.unwrap().path().join("src"));
    }
    let mut found = Vec::new();
    for dir in dirs {
        rust_files(&dir, &mut found);
    }
    found
        .into_iter()
        .map(|path| {
            let shown = path
                .strip_prefix(workspace())
                .unwrap()
                .display()
                .to_string();
            (shown, code_of(&std::fs::read_to_string(&path).unwrap()))
        })
        .collect()
}

/// The task store's writes (`create`, `commit`, `reschedule`,
/// `update_deadlines`) are called by the engine alone (`engine/src/lib.rs`):
/// everything else asks it, so every write is one the state machine (or a
/// `DeadlineWrite` plan) produced. The in-memory fakes implement the store
/// and are not callers.
#[test]
fn only_the_engine_writes_task_records() {
    let writes = ["create", "commit", "reschedule", "update_deadlines"];
    let mut writers = Vec::new();
    let mut engine_writes = 0;
    for (path, code) in product_files() {
        if path == "core/src/fakes.rs" {
            continue;
        }
        for write in writes {
            for receiver in ["tasks()", "tasks"] {
                let call = format!("{receiver}.{write}(");
                let found = code
                    .match_indices(&call)
                    .filter(|(at, _)| !code[..*at].ends_with(is_ident))
                    .count();
                if path == "engine/src/lib.rs" {
                    engine_writes += found;
                } else if found > 0 {
                    writers.push(format!("{path} calls {call}"));
                }
            }
        }
    }
    assert!(writers.is_empty(), "{writers:#?}");
    // The check sees the engine's own writes.
    assert!(engine_writes >= 4, "{engine_writes}");
}

/// `engine/src/handlers/` holds the entry points and nothing else: each of
/// its modules is the handler some function's `main` runs, and every
/// function but the api runs one of them.
#[test]
fn handlers_hold_only_the_functions_entry_points() {
    let handlers = workspace().join("engine/src/handlers");
    let listed = code_of(&std::fs::read_to_string(handlers.join("mod.rs")).unwrap());
    // `pub use module::{A, B};` → module → [A, B]
    let mut exported: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in listed.lines() {
        let Some(used) = line.trim().strip_prefix("pub use ") else {
            continue;
        };
        let (segments, group) = path_at(used);
        let names = if group.is_empty() {
            segments.last().into_iter().cloned().collect()
        } else {
            group
        };
        exported
            .entry(segments[0].clone())
            .or_default()
            .extend(names);
    }
    let mut mains = BTreeMap::new();
    for entry in std::fs::read_dir(workspace().join("functions")).unwrap() {
        let dir = entry.unwrap().path();
        let main = std::fs::read_to_string(dir.join("src/main.rs")).unwrap();
        let function = dir.file_name().unwrap().to_string_lossy().into_owned();
        mains.insert(function, main);
    }
    let mut misplaced = Vec::new();
    for entry in std::fs::read_dir(&handlers).unwrap() {
        let file = entry.unwrap().path();
        let module = file.file_stem().unwrap().to_string_lossy().into_owned();
        if module == "mod" {
            continue;
        }
        let types = exported.get(&module).cloned().unwrap_or_default();
        let run = mains.values().any(|main| {
            types.iter().any(|t| {
                main.contains(&format!("handlers::{t};"))
                    || main.contains(&format!("handlers::{t}::"))
            })
        });
        if !run {
            misplaced.push(format!(
                "handlers/{module}.rs is run by no function's main ({types:?})"
            ));
        }
    }
    for (function, main) in &mains {
        if function != "api" && !main.contains("tel_engine::handlers::") {
            misplaced.push(format!(
                "functions/{function} runs no handler of engine/src/handlers"
            ));
        }
    }
    assert!(misplaced.is_empty(), "{misplaced:#?}");
    assert_eq!(exported.len(), 7, "{exported:?}");
}

/// The product's crates (the engine, the API, the runners, every function)
/// reach AWS only through tel-aws: none depends on an AWS SDK crate or names
/// one. (tel-local and the `tel` CLI provision and read the emulators for a
/// developer, and the tests and the bench inspect them: they are not part
/// of what is deployed.)
#[test]
fn no_crate_of_the_product_names_an_aws_sdk_but_tel_aws() {
    let mut crates: Vec<std::path::PathBuf> = ["core", "engine", "api", "runners"]
        .iter()
        .map(|dir| workspace().join(dir))
        .collect();
    for entry in std::fs::read_dir(workspace().join("functions")).unwrap() {
        crates.push(entry.unwrap().path());
    }
    let mut found = Vec::new();
    for dir in &crates {
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        let dependencies = manifest
            .split("[dependencies]")
            .nth(1)
            .unwrap_or_default()
            .split("\n[")
            .next()
            .unwrap_or_default();
        for line in dependencies.lines() {
            if line.starts_with("aws-sdk-") || line.starts_with("aws-config") {
                found.push(format!("{}: depends on {line}", dir.display()));
            }
        }
        let mut files = Vec::new();
        rust_files(&dir.join("src"), &mut files);
        for file in files {
            let code = code_of(&std::fs::read_to_string(&file).unwrap());
            for sdk in ["aws_sdk_", "aws_config::"] {
                if code.contains(sdk) {
                    found.push(format!("{} names {sdk}", file.display()));
                }
            }
        }
    }
    assert!(found.is_empty(), "{found:#?}");
    // The check reads the adapters' own manifest the same way.
    let aws = std::fs::read_to_string(workspace().join("aws/Cargo.toml")).unwrap();
    assert!(
        aws.split("[dependencies]")
            .nth(1)
            .unwrap()
            .contains("\naws-sdk-sqs")
    );
}
