//! The man pages the package ships (debian/man/) are generated from the CLI's own
//! declaration, so they cannot drift: this test fails when they are out of date and
//! writes new ones with `RAUMWART_WRITE_MAN=1 cargo test --test offline man::`.

use std::path::Path;

/// raumwart.1 and one raumwart-<command>.1 per command, as clap_mangen names them.
fn pages() -> Vec<(String, Vec<u8>)> {
    let mut top = raumwart::cli::command();
    // Hands the global options (--config, --socket) down to every command.
    top.build();
    let mut commands = vec![top.clone()];
    commands.extend(
        top.get_subcommands()
            .filter(|c| c.get_name() != "help")
            // clap takes static names; a test may leak a few bytes.
            .map(|c| {
                let name: &'static str = format!("raumwart-{}", c.get_name()).leak();
                c.clone().name(name)
            }),
    );
    commands
        .into_iter()
        .map(|c| {
            let name = format!("{}.1", c.get_name());
            let mut page = vec![];
            clap_mangen::Man::new(c).render(&mut page).unwrap();
            (name, page)
        })
        .collect()
}

#[test]
fn man_pages_match_the_cli() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("debian/man");
    let write = std::env::var_os("RAUMWART_WRITE_MAN").is_some();
    let pages = pages();
    if write {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
    }
    for (name, page) in &pages {
        if write {
            std::fs::write(dir.join(name), page).unwrap();
        }
        let shipped = std::fs::read(dir.join(name)).unwrap_or_default();
        assert!(
            &shipped == page,
            "debian/man/{name} is out of date: RAUMWART_WRITE_MAN=1 cargo test --test offline man::"
        );
    }
    let shipped = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(shipped, pages.len(), "a page in debian/man/ for no command");
}
