//! The servers of `NATS_URL` / `--server`: one URL or a comma-separated list, as the `nats`
//! CLI takes them (`nats://nats-1:4222,nats://nats-2:4222`), so a component can be pointed at
//! every node of a cluster and start while any one of them is up.
//!
//! Whitespace around an entry is ignored; an empty entry (`a,,b`, a trailing comma) is refused
//! rather than skipped: it is a typo in a deployment file, and skipping it would hide that a
//! node meant to be listed is not.

use async_nats::ServerAddr;

/// The servers listed in `value`, in order; an error saying what to write instead.
pub fn parse(value: &str) -> Result<Vec<ServerAddr>, String> {
    if value.trim().is_empty() {
        return Err(format!(
            "NATS_URL/--server is empty: give a server URL such as nats://127.0.0.1:4222, or several separated by commas ({EXAMPLE})"
        ));
    }
    let entries: Vec<&str> = value.split(',').map(str::trim).collect();
    let count = entries.len();
    entries
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            let position = index + 1;
            if entry.is_empty() {
                return Err(format!(
                    "NATS_URL/--server: server {position} of {count} is empty: separate the servers with single commas and no trailing comma ({EXAMPLE})"
                ));
            }
            entry.parse::<ServerAddr>().map_err(|err| {
                format!(
                    "NATS_URL/--server: server {position} of {count}, {entry:?}, is not a NATS server URL ({err}): write each server as nats://host:port, separated by commas ({EXAMPLE})"
                )
            })
        })
        .collect()
}

/// A clap value parser: `value` as given, once every server in it reads as a URL.
pub fn checked(value: &str) -> Result<String, String> {
    parse(value).map(|_| value.to_owned())
}

const EXAMPLE: &str = "e.g. nats://nats-1:4222,nats://nats-2:4222";

#[cfg(test)]
mod tests {
    use super::parse;

    fn hosts(value: &str) -> Vec<String> {
        parse(value)
            .unwrap_or_else(|e| panic!("{value:?}: {e}"))
            .iter()
            .map(|addr| format!("{}:{}", addr.host(), addr.port()))
            .collect()
    }

    #[test]
    fn one_server_is_a_list_of_one() {
        assert_eq!(hosts("nats://127.0.0.1:4222"), ["127.0.0.1:4222"]);
        // As the nats CLI: no scheme means nats://, no port means 4222.
        assert_eq!(hosts("localhost"), ["localhost:4222"]);
    }

    #[test]
    fn servers_are_separated_by_commas_with_whitespace_tolerated() {
        assert_eq!(
            hosts("nats://nats-1:4222,nats://nats-2:4222, nats://nats-3:4222 "),
            ["nats-1:4222", "nats-2:4222", "nats-3:4222"]
        );
        assert_eq!(hosts(" a:1 ,\tb:2"), ["a:1", "b:2"]);
        assert_eq!(hosts("tls://a:4443,nats://user:pw@b:4222"), ["a:4443", "b:4222"]);
    }

    #[test]
    fn an_empty_entry_is_refused_with_its_position() {
        for (value, position) in [
            ("nats://a:4222,,nats://b:4222", "server 2 of 3 is empty"),
            ("nats://a:4222,", "server 2 of 2 is empty"),
            (",nats://a:4222", "server 1 of 2 is empty"),
            ("nats://a:4222, ,nats://b:4222", "server 2 of 3 is empty"),
        ] {
            let err = parse(value).expect_err(value);
            assert!(err.contains(position), "{value:?}: {err}");
            assert!(err.contains("single commas"), "says what to do: {err}");
        }
        let err = parse("  ").expect_err("blank");
        assert!(
            err.contains("is empty") && err.contains("nats://127.0.0.1:4222"),
            "{err}"
        );
    }

    #[test]
    fn an_entry_that_is_not_a_url_is_named_with_why() {
        let err = parse("nats://a:4222,nats://b:port").expect_err("bad port");
        assert!(
            err.contains("server 2 of 2") && err.contains("\"nats://b:port\""),
            "{err}"
        );
        assert!(err.contains("invalid port number"), "says why: {err}");
        assert!(err.contains("nats://host:port"), "says what to write: {err}");
        let err = parse("http://a:4222").expect_err("scheme");
        assert!(err.contains("invalid scheme"), "{err}");
    }
}
