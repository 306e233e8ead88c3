//! The command line follows the conventions an admin expects: `--help` everywhere, a
//! usage error exits 2, `--config` defaults to /etc/raumwart/config.toml and comes from
//! `RAUMWART_CONFIG` too. The shell completions the package ships (debian/completions/)
//! are generated from the same clap declaration as the help and the man pages: this test
//! fails when they are out of date and writes new ones with
//! `RAUMWART_WRITE_COMPLETIONS=1 cargo test --test offline cli::`.

use std::path::Path;
use std::process::{Command, Output};

use clap_complete::Shell;

fn raumwart(args: &[&str], vars: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_raumwart"))
        .args(args)
        .env_remove("RAUMWART_CONFIG")
        .env_remove("RAUMWART_SOCKET")
        .envs(vars.iter().copied())
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn usage_errors_exit_2_and_help_works_for_every_command() {
    for args in [
        &[][..],
        &["frobnicate"],
        &["end-session"],
        &["status", "--no-such-option"],
    ] {
        let out = raumwart(args, &[]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "raumwart {args:?}: {}",
            text(&out)
        );
        assert!(text(&out).contains("Usage: raumwart"), "{}", text(&out));
    }
    let top = raumwart(&["--help"], &[]);
    assert_eq!(top.status.code(), Some(0));
    let mut commands = 0;
    for command in raumwart::cli::command().get_subcommands() {
        let name = command.get_name();
        for args in [[name, "--help"], ["help", name]] {
            let out = raumwart(&args, &[]);
            assert_eq!(
                out.status.code(),
                Some(0),
                "raumwart {args:?}: {}",
                text(&out)
            );
            assert!(
                text(&out).contains(&format!("Usage: raumwart {name}")),
                "raumwart {args:?}: {}",
                text(&out)
            );
        }
        assert!(text(&top).contains(name), "{name} is not in --help");
        commands += 1;
    }
    assert!(commands >= 6);
    assert_eq!(raumwart(&["--version"], &[]).status.code(), Some(0));
}

#[test]
fn config_defaults_to_etc_and_comes_from_the_environment() {
    let help = text(&raumwart(&["check", "--help"], &[]));
    assert!(
        help.contains("[env: RAUMWART_CONFIG=]") && help.contains("/etc/raumwart/config.toml"),
        "{help}"
    );
    // Without --config and RAUMWART_CONFIG, check reads /etc/raumwart/config.toml.
    let out = raumwart(&["check"], &[]);
    if !Path::new("/etc/raumwart/config.toml").exists() {
        assert_eq!(out.status.code(), Some(78));
        assert!(
            text(&out).contains("/etc/raumwart/config.toml: cannot read"),
            "{}",
            text(&out)
        );
    }
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid/minimal.toml");
    let out = raumwart(&["check"], &[("RAUMWART_CONFIG", file.to_str().unwrap())]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains(&format!("{}: ok (", file.display())));
    // --config wins over the environment.
    let out = raumwart(
        &["check", "--config", file.to_str().unwrap()],
        &[("RAUMWART_CONFIG", "/nonexistent.toml")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// (shell, file name in debian/completions/)
const SHELLS: [(Shell, &str); 3] = [
    (Shell::Bash, "raumwart.bash"),
    (Shell::Zsh, "_raumwart"),
    (Shell::Fish, "raumwart.fish"),
];

#[test]
fn completions_match_the_cli() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("debian/completions");
    let write = std::env::var_os("RAUMWART_WRITE_COMPLETIONS").is_some();
    if write {
        std::fs::create_dir_all(&dir).unwrap();
    }
    for (shell, name) in SHELLS {
        let mut script = vec![];
        clap_complete::generate(
            shell,
            &mut raumwart::cli::command(),
            "raumwart",
            &mut script,
        );
        if write {
            std::fs::write(dir.join(name), &script).unwrap();
        }
        let shipped = std::fs::read(dir.join(name)).unwrap_or_default();
        assert!(
            shipped == script,
            "debian/completions/{name} is out of date: RAUMWART_WRITE_COMPLETIONS=1 cargo test --test offline cli::"
        );
    }
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), SHELLS.len());
}

/// The bash completion offers the subcommands (bash -c, when bash is there).
#[test]
fn bash_completion_offers_the_commands() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("debian/completions/raumwart.bash");
    let probe = format!(
        "source {}; COMP_WORDS=(raumwart en); COMP_CWORD=1; COMP_LINE='raumwart en'; COMP_POINT=11; _raumwart raumwart en raumwart; echo \"${{COMPREPLY[@]}}\"",
        script.display()
    );
    let out = Command::new("bash").arg("-c").arg(probe).output().unwrap();
    assert!(text(&out).contains("end-session"), "{}", text(&out));
}
