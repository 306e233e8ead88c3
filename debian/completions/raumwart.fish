# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_raumwart_global_optspecs
    string join \n c/config= socket= h/help V/version
end

function __fish_raumwart_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_raumwart_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_raumwart_using_subcommand
    set -l cmd (__fish_raumwart_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c raumwart -n "__fish_raumwart_needs_command" -s c -l config -d 'The configuration file' -r -F
complete -c raumwart -n "__fish_raumwart_needs_command" -l socket -d 'The running daemon\'s control socket (default: asked from the daemon at the configuration\'s http.listen); for `run`, where to create it (default: $RUNTIME_DIRECTORY/control, else a private temporary folder)' -r -F
complete -c raumwart -n "__fish_raumwart_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c raumwart -n "__fish_raumwart_needs_command" -s V -l version -d 'Print version'
complete -c raumwart -n "__fish_raumwart_needs_command" -f -a "run" -d 'Run the daemon in the foreground, logging to stderr'
complete -c raumwart -n "__fish_raumwart_needs_command" -f -a "check" -d 'Validate the configuration file'
complete -c raumwart -n "__fish_raumwart_needs_command" -f -a "password" -d 'Print a new strong password for a password file'
complete -c raumwart -n "__fish_raumwart_needs_command" -f -a "status" -d 'Show every managed room of the running daemon'
complete -c raumwart -n "__fish_raumwart_needs_command" -f -a "doctor" -d 'Check the running Prosody against what raumwart needs'
complete -c raumwart -n "__fish_raumwart_needs_command" -f -a "end-session" -d 'End the session in ROOM now (the hotline\'s lever)'
complete -c raumwart -n "__fish_raumwart_needs_command" -f -a "reload" -d 'Make the running daemon read its configuration file again'
complete -c raumwart -n "__fish_raumwart_needs_command" -f -a "school" -d 'Add, remove and list schools, new passwords, access letters, register imports'
complete -c raumwart -n "__fish_raumwart_needs_command" -f -a "console" -d 'Serve the media centres\' web console, or manage its staff accounts'
complete -c raumwart -n "__fish_raumwart_needs_command" -f -a "setup" -d 'Add raumwart to the Prosody of a Jitsi Meet from Jitsi\'s Debian packages'
complete -c raumwart -n "__fish_raumwart_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c raumwart -n "__fish_raumwart_using_subcommand run" -s c -l config -d 'The configuration file' -r -F
complete -c raumwart -n "__fish_raumwart_using_subcommand run" -l socket -d 'The running daemon\'s control socket (default: asked from the daemon at the configuration\'s http.listen); for `run`, where to create it (default: $RUNTIME_DIRECTORY/control, else a private temporary folder)' -r -F
complete -c raumwart -n "__fish_raumwart_using_subcommand run" -s h -l help -d 'Print help'
complete -c raumwart -n "__fish_raumwart_using_subcommand run" -s V -l version -d 'Print version'
complete -c raumwart -n "__fish_raumwart_using_subcommand check" -s c -l config -d 'The configuration file' -r -F
complete -c raumwart -n "__fish_raumwart_using_subcommand check" -l socket -d 'The running daemon\'s control socket (default: asked from the daemon at the configuration\'s http.listen); for `run`, where to create it (default: $RUNTIME_DIRECTORY/control, else a private temporary folder)' -r -F
complete -c raumwart -n "__fish_raumwart_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c raumwart -n "__fish_raumwart_using_subcommand check" -s V -l version -d 'Print version'
complete -c raumwart -n "__fish_raumwart_using_subcommand password" -s c -l config -d 'The configuration file' -r -F
complete -c raumwart -n "__fish_raumwart_using_subcommand password" -l socket -d 'The running daemon\'s control socket (default: asked from the daemon at the configuration\'s http.listen); for `run`, where to create it (default: $RUNTIME_DIRECTORY/control, else a private temporary folder)' -r -F
complete -c raumwart -n "__fish_raumwart_using_subcommand password" -s h -l help -d 'Print help'
complete -c raumwart -n "__fish_raumwart_using_subcommand password" -s V -l version -d 'Print version'
complete -c raumwart -n "__fish_raumwart_using_subcommand status" -s c -l config -d 'The configuration file' -r -F
complete -c raumwart -n "__fish_raumwart_using_subcommand status" -l socket -d 'The running daemon\'s control socket (default: asked from the daemon at the configuration\'s http.listen); for `run`, where to create it (default: $RUNTIME_DIRECTORY/control, else a private temporary folder)' -r -F
complete -c raumwart -n "__fish_raumwart_using_subcommand status" -l json -d 'Print JSON for scripts instead of a table'
complete -c raumwart -n "__fish_raumwart_using_subcommand status" -s h -l help -d 'Print help'
complete -c raumwart -n "__fish_raumwart_using_subcommand status" -s V -l version -d 'Print version'
complete -c raumwart -n "__fish_raumwart_using_subcommand doctor" -s c -l config -d 'The configuration file' -r -F
complete -c raumwart -n "__fish_raumwart_using_subcommand doctor" -l socket -d 'The running daemon\'s control socket (default: asked from the daemon at the configuration\'s http.listen); for `run`, where to create it (default: $RUNTIME_DIRECTORY/control, else a private temporary folder)' -r -F
complete -c raumwart -n "__fish_raumwart_using_subcommand doctor" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c raumwart -n "__fish_raumwart_using_subcommand doctor" -s V -l version -d 'Print version'
complete -c raumwart -n "__fish_raumwart_using_subcommand end-session" -s c -l config -d 'The configuration file' -r -F
complete -c raumwart -n "__fish_raumwart_using_subcommand end-session" -l socket -d 'The running daemon\'s control socket (default: asked from the daemon at the configuration\'s http.listen); for `run`, where to create it (default: $RUNTIME_DIRECTORY/control, else a private temporary folder)' -r -F
complete -c raumwart -n "__fish_raumwart_using_subcommand end-session" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c raumwart -n "__fish_raumwart_using_subcommand end-session" -s V -l version -d 'Print version'
complete -c raumwart -n "__fish_raumwart_using_subcommand reload" -s c -l config -d 'The configuration file' -r -F
complete -c raumwart -n "__fish_raumwart_using_subcommand reload" -l socket -d 'The running daemon\'s control socket (default: asked from the daemon at the configuration\'s http.listen); for `run`, where to create it (default: $RUNTIME_DIRECTORY/control, else a private temporary folder)' -r -F
complete -c raumwart -n "__fish_raumwart_using_subcommand reload" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c raumwart -n "__fish_raumwart_using_subcommand reload" -s V -l version -d 'Print version'
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and not __fish_seen_subcommand_from add remove rotate list letter import help" -s c -l config -d 'The configuration file' -r -F
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and not __fish_seen_subcommand_from add remove rotate list letter import help" -l socket -d 'The running daemon\'s control socket (default: asked from the daemon at the configuration\'s http.listen); for `run`, where to create it (default: $RUNTIME_DIRECTORY/control, else a private temporary folder)' -r -F
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and not __fish_seen_subcommand_from add remove rotate list letter import help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and not __fish_seen_subcommand_from add remove rotate list letter import help" -s V -l version -d 'Print version'
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and not __fish_seen_subcommand_from add remove rotate list letter import help" -f -a "add" -d 'Add a school with its rooms and a new generated password'
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and not __fish_seen_subcommand_from add remove rotate list letter import help" -f -a "remove" -d 'Remove a school: end its running sessions, remove its block and password files'
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and not __fish_seen_subcommand_from add remove rotate list letter import help" -f -a "rotate" -d 'Write a new password, in force from each room\'s next reset'
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and not __fish_seen_subcommand_from add remove rotate list letter import help" -f -a "list" -d 'List schools, their media centres, rooms and the age of each password (never a password)'
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and not __fish_seen_subcommand_from add remove rotate list letter import help" -f -a "letter" -d 'Write the school\'s one-page access letter (German) to FILE: a PDF when FILE ends in .pdf, else an HTML page'
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and not __fish_seen_subcommand_from add remove rotate list letter import help" -f -a "import" -d 'Add the schools of a register (.xlsx, .ods, .csv) that are not configured yet'
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and not __fish_seen_subcommand_from add remove rotate list letter import help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from add" -l name -d 'The school\'s name, for the media centre and the letter' -r
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from add" -l media-centre -d 'The id of the school\'s [[media_centre]] (needed when there are several)' -r
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from add" -l rooms -d 'How many rooms (ID-1 … ID-N)' -r
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from add" -l room -d 'A room name, as people type it (repeatable)' -r
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from add" -s c -l config -d 'The configuration file' -r -F
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from add" -l socket -d 'The running daemon\'s control socket (default: asked from the daemon at the configuration\'s http.listen); for `run`, where to create it (default: $RUNTIME_DIRECTORY/control, else a private temporary folder)' -r -F
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from add" -s V -l version -d 'Print version'
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from remove" -s c -l config -d 'The configuration file' -r -F
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from remove" -l socket -d 'The running daemon\'s control socket (default: asked from the daemon at the configuration\'s http.listen); for `run`, where to create it (default: $RUNTIME_DIRECTORY/control, else a private temporary folder)' -r -F
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from remove" -s V -l version -d 'Print version'
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from rotate" -l room -d 'Only this room (it then gets a password of its own)' -r
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from rotate" -s c -l config -d 'The configuration file' -r -F
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from rotate" -l socket -d 'The running daemon\'s control socket (default: asked from the daemon at the configuration\'s http.listen); for `run`, where to create it (default: $RUNTIME_DIRECTORY/control, else a private temporary folder)' -r -F
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from rotate" -s h -l help -d 'Print help'
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from rotate" -s V -l version -d 'Print version'
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from list" -l media-centre -d 'Only the schools of this [[media_centre]]' -r
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from list" -s c -l config -d 'The configuration file' -r -F
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from list" -l socket -d 'The running daemon\'s control socket (default: asked from the daemon at the configuration\'s http.listen); for `run`, where to create it (default: $RUNTIME_DIRECTORY/control, else a private temporary folder)' -r -F
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from letter" -l out -r -F
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from letter" -s c -l config -d 'The configuration file' -r -F
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from letter" -l socket -d 'The running daemon\'s control socket (default: asked from the daemon at the configuration\'s http.listen); for `run`, where to create it (default: $RUNTIME_DIRECTORY/control, else a private temporary folder)' -r -F
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from letter" -s h -l help -d 'Print help'
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from letter" -s V -l version -d 'Print version'
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from import" -l id-column -d 'The header of the column holding the school id' -r
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from import" -l name-column -d 'The header of the column holding the school\'s name' -r
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from import" -l media-centre -d 'The id of the [[media_centre]] whose register it is: every new school is its (needed when there are several)' -r
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from import" -l rooms -d 'Rooms per new school' -r
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from import" -s c -l config -d 'The configuration file' -r -F
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from import" -l socket -d 'The running daemon\'s control socket (default: asked from the daemon at the configuration\'s http.listen); for `run`, where to create it (default: $RUNTIME_DIRECTORY/control, else a private temporary folder)' -r -F
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from import" -l dry-run -d 'Show what would change, change nothing'
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from import" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from import" -s V -l version -d 'Print version'
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add a school with its rooms and a new generated password'
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Remove a school: end its running sessions, remove its block and password files'
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from help" -f -a "rotate" -d 'Write a new password, in force from each room\'s next reset'
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from help" -f -a "list" -d 'List schools, their media centres, rooms and the age of each password (never a password)'
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from help" -f -a "letter" -d 'Write the school\'s one-page access letter (German) to FILE: a PDF when FILE ends in .pdf, else an HTML page'
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from help" -f -a "import" -d 'Add the schools of a register (.xlsx, .ods, .csv) that are not configured yet'
complete -c raumwart -n "__fish_raumwart_using_subcommand school; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c raumwart -n "__fish_raumwart_using_subcommand console; and not __fish_seen_subcommand_from user help" -s c -l config -d 'The configuration file' -r -F
complete -c raumwart -n "__fish_raumwart_using_subcommand console; and not __fish_seen_subcommand_from user help" -l socket -d 'The running daemon\'s control socket (default: asked from the daemon at the configuration\'s http.listen); for `run`, where to create it (default: $RUNTIME_DIRECTORY/control, else a private temporary folder)' -r -F
complete -c raumwart -n "__fish_raumwart_using_subcommand console; and not __fish_seen_subcommand_from user help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c raumwart -n "__fish_raumwart_using_subcommand console; and not __fish_seen_subcommand_from user help" -s V -l version -d 'Print version'
complete -c raumwart -n "__fish_raumwart_using_subcommand console; and not __fish_seen_subcommand_from user help" -f -a "user" -d 'Staff accounts of the console'
complete -c raumwart -n "__fish_raumwart_using_subcommand console; and not __fish_seen_subcommand_from user help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c raumwart -n "__fish_raumwart_using_subcommand console; and __fish_seen_subcommand_from user" -s c -l config -d 'The configuration file' -r -F
complete -c raumwart -n "__fish_raumwart_using_subcommand console; and __fish_seen_subcommand_from user" -l socket -d 'The running daemon\'s control socket (default: asked from the daemon at the configuration\'s http.listen); for `run`, where to create it (default: $RUNTIME_DIRECTORY/control, else a private temporary folder)' -r -F
complete -c raumwart -n "__fish_raumwart_using_subcommand console; and __fish_seen_subcommand_from user" -s h -l help -d 'Print help'
complete -c raumwart -n "__fish_raumwart_using_subcommand console; and __fish_seen_subcommand_from user" -s V -l version -d 'Print version'
complete -c raumwart -n "__fish_raumwart_using_subcommand console; and __fish_seen_subcommand_from user" -f -a "add" -d 'Add an account and print its generated password (hand it over, then forget it)'
complete -c raumwart -n "__fish_raumwart_using_subcommand console; and __fish_seen_subcommand_from user" -f -a "remove" -d 'Remove an account and end its sessions'
complete -c raumwart -n "__fish_raumwart_using_subcommand console; and __fish_seen_subcommand_from user" -f -a "reset-password" -d 'Give an account a new generated password (printed) and end its sessions'
complete -c raumwart -n "__fish_raumwart_using_subcommand console; and __fish_seen_subcommand_from user" -f -a "list" -d 'List the accounts and what each sees (never a password)'
complete -c raumwart -n "__fish_raumwart_using_subcommand console; and __fish_seen_subcommand_from user" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c raumwart -n "__fish_raumwart_using_subcommand console; and __fish_seen_subcommand_from help" -f -a "user" -d 'Staff accounts of the console'
complete -c raumwart -n "__fish_raumwart_using_subcommand console; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c raumwart -n "__fish_raumwart_using_subcommand setup" -l domain -d 'The Jitsi domain (default: the one Prosody serves with its MUC conference.DOMAIN)' -r
complete -c raumwart -n "__fish_raumwart_using_subcommand setup" -l prosody-config -d 'Prosody\'s configuration folder, with prosody.cfg.lua and conf.d/' -r -F
complete -c raumwart -n "__fish_raumwart_using_subcommand setup" -l module-dir -d 'The folder of raumwart\'s Prosody module, added to Prosody\'s plugin_paths' -r -F
complete -c raumwart -n "__fish_raumwart_using_subcommand setup" -s c -l config -d 'The configuration file' -r -F
complete -c raumwart -n "__fish_raumwart_using_subcommand setup" -l socket -d 'The running daemon\'s control socket (default: asked from the daemon at the configuration\'s http.listen); for `run`, where to create it (default: $RUNTIME_DIRECTORY/control, else a private temporary folder)' -r -F
complete -c raumwart -n "__fish_raumwart_using_subcommand setup" -l dry-run -d 'Print the changes as a diff of every file, change nothing'
complete -c raumwart -n "__fish_raumwart_using_subcommand setup" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c raumwart -n "__fish_raumwart_using_subcommand setup" -s V -l version -d 'Print version'
complete -c raumwart -n "__fish_raumwart_using_subcommand help; and not __fish_seen_subcommand_from run check password status doctor end-session reload school console setup help" -f -a "run" -d 'Run the daemon in the foreground, logging to stderr'
complete -c raumwart -n "__fish_raumwart_using_subcommand help; and not __fish_seen_subcommand_from run check password status doctor end-session reload school console setup help" -f -a "check" -d 'Validate the configuration file'
complete -c raumwart -n "__fish_raumwart_using_subcommand help; and not __fish_seen_subcommand_from run check password status doctor end-session reload school console setup help" -f -a "password" -d 'Print a new strong password for a password file'
complete -c raumwart -n "__fish_raumwart_using_subcommand help; and not __fish_seen_subcommand_from run check password status doctor end-session reload school console setup help" -f -a "status" -d 'Show every managed room of the running daemon'
complete -c raumwart -n "__fish_raumwart_using_subcommand help; and not __fish_seen_subcommand_from run check password status doctor end-session reload school console setup help" -f -a "doctor" -d 'Check the running Prosody against what raumwart needs'
complete -c raumwart -n "__fish_raumwart_using_subcommand help; and not __fish_seen_subcommand_from run check password status doctor end-session reload school console setup help" -f -a "end-session" -d 'End the session in ROOM now (the hotline\'s lever)'
complete -c raumwart -n "__fish_raumwart_using_subcommand help; and not __fish_seen_subcommand_from run check password status doctor end-session reload school console setup help" -f -a "reload" -d 'Make the running daemon read its configuration file again'
complete -c raumwart -n "__fish_raumwart_using_subcommand help; and not __fish_seen_subcommand_from run check password status doctor end-session reload school console setup help" -f -a "school" -d 'Add, remove and list schools, new passwords, access letters, register imports'
complete -c raumwart -n "__fish_raumwart_using_subcommand help; and not __fish_seen_subcommand_from run check password status doctor end-session reload school console setup help" -f -a "console" -d 'Serve the media centres\' web console, or manage its staff accounts'
complete -c raumwart -n "__fish_raumwart_using_subcommand help; and not __fish_seen_subcommand_from run check password status doctor end-session reload school console setup help" -f -a "setup" -d 'Add raumwart to the Prosody of a Jitsi Meet from Jitsi\'s Debian packages'
complete -c raumwart -n "__fish_raumwart_using_subcommand help; and not __fish_seen_subcommand_from run check password status doctor end-session reload school console setup help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c raumwart -n "__fish_raumwart_using_subcommand help; and __fish_seen_subcommand_from school" -f -a "add" -d 'Add a school with its rooms and a new generated password'
complete -c raumwart -n "__fish_raumwart_using_subcommand help; and __fish_seen_subcommand_from school" -f -a "remove" -d 'Remove a school: end its running sessions, remove its block and password files'
complete -c raumwart -n "__fish_raumwart_using_subcommand help; and __fish_seen_subcommand_from school" -f -a "rotate" -d 'Write a new password, in force from each room\'s next reset'
complete -c raumwart -n "__fish_raumwart_using_subcommand help; and __fish_seen_subcommand_from school" -f -a "list" -d 'List schools, their media centres, rooms and the age of each password (never a password)'
complete -c raumwart -n "__fish_raumwart_using_subcommand help; and __fish_seen_subcommand_from school" -f -a "letter" -d 'Write the school\'s one-page access letter (German) to FILE: a PDF when FILE ends in .pdf, else an HTML page'
complete -c raumwart -n "__fish_raumwart_using_subcommand help; and __fish_seen_subcommand_from school" -f -a "import" -d 'Add the schools of a register (.xlsx, .ods, .csv) that are not configured yet'
complete -c raumwart -n "__fish_raumwart_using_subcommand help; and __fish_seen_subcommand_from console" -f -a "user" -d 'Staff accounts of the console'
