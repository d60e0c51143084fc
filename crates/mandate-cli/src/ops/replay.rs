//! A rebuild, as the CLI and the console follow it: a component's (or one partition's) name,
//! the rebuild's refusals worded, and its progress read from the admin status — per consumer
//! the applied sequence against the larger of its replay mark (where the rebuild stops
//! suppressing re-publication) and applied + pending; over when the component is no longer
//! rebuilding and every consumer has caught up.

use mandate::CallError;
use mandate::admin::StatusReport;

use crate::admin::AdminError;
use crate::output;

/// A component's name, or one partition's, `<name>.p<P>of<N>` (each partition has its own
/// store and is rebuilt on its own).
pub fn component_name(text: &str) -> Result<String, String> {
    let (component, partition) = match text.split_once('.') {
        Some((component, label)) => (component, Some(label)),
        None => (text, None),
    };
    mandate::validate_component_name(component)?;
    if let Some(label) = partition {
        let valid = label
            .strip_prefix('p')
            .and_then(|rest| rest.split_once("of"))
            .is_some_and(|(p, n)| {
                [p, n]
                    .iter()
                    .all(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
            });
        if !valid {
            return Err(format!(
                "{text:?}: a partition is named <component>.p<P>of<N>, as `mandate status` lists it (orders.p1of3)"
            ));
        }
    }
    Ok(text.to_owned())
}

pub fn rebuild_error(name: &str, err: AdminError) -> anyhow::Error {
    let AdminError::Call(err) = err else {
        return err.into();
    };
    match err {
        CallError::Service { error, .. } if error.code == 409 => {
            anyhow::anyhow!("{name} is already rebuilding: `mandate status` shows its progress")
        }
        CallError::Service { error, .. } => {
            anyhow::anyhow!("{name} refused the rebuild: {} ({})", error.message, error.code)
        }
        CallError::Timeout { subject, after } => anyhow::anyhow!(
            "{subject} did not answer within {}: the rebuild may still have started (`mandate status` shows); give more time with --timeout",
            output::duration(after)
        ),
        other => other.into(),
    }
}

pub fn status_is_final(status: &StatusReport) -> bool {
    !status.rebuilding && status.consumers.iter().all(|c| c.caught_up)
}

/// (applied, target) summed over consumers.
pub fn progress(status: &StatusReport) -> (u64, u64) {
    status.consumers.iter().fold((0, 0), |(done, total), c| {
        let target = c.replay_until.max(c.applied_sequence + c.pending.unwrap_or(0));
        (done + c.applied_sequence.min(target), total + target)
    })
}

#[cfg(test)]
mod tests {
    use super::component_name;

    #[test]
    fn a_partition_is_named_as_status_lists_it() {
        assert_eq!(component_name("orders.p1of3").as_deref(), Ok("orders.p1of3"));
        assert_eq!(component_name("orders").as_deref(), Ok("orders"));
        for bad in ["orders.", "orders.p1", "orders.x1of3", "Orders.p1of3", "orders.p1of3.x"] {
            assert!(component_name(bad).is_err(), "{bad}");
        }
    }
}
