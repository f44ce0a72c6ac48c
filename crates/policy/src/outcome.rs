//! The five decision outcomes and their restrictiveness order.
//!
//! Combining is order-independent: over all matching rules the most restrictive outcome wins
//! (deny > require_approval > remediate > allow_with_constraints > allow).

use serde::{Deserialize, Serialize};

/// What the engine decided for an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The action may proceed unchanged.
    Allow,
    /// The action may proceed under the constraints the matching rules name.
    AllowWithConstraints,
    /// The action proceeds rewritten to the safer variant the rule gives.
    Remediate,
    /// The action waits for a human with one of the named approver roles.
    RequireApproval,
    /// The action never proceeds.
    Deny,
}

impl Outcome {
    /// Every outcome, least restrictive first.
    pub const ALL: [Outcome; 5] = [
        Outcome::Allow,
        Outcome::AllowWithConstraints,
        Outcome::Remediate,
        Outcome::RequireApproval,
        Outcome::Deny,
    ];

    /// Rank in the restrictiveness order: a higher rank wins.
    pub fn rank(self) -> u8 {
        match self {
            Outcome::Allow => 0,
            Outcome::AllowWithConstraints => 1,
            Outcome::Remediate => 2,
            Outcome::RequireApproval => 3,
            Outcome::Deny => 4,
        }
    }

    /// The more restrictive of `self` and `other`.
    pub fn most_restrictive(self, other: Outcome) -> Outcome {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }

    /// The name used in policy files and JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allow => "allow",
            Outcome::AllowWithConstraints => "allow_with_constraints",
            Outcome::Remediate => "remediate",
            Outcome::RequireApproval => "require_approval",
            Outcome::Deny => "deny",
        }
    }

    /// Whether the action is released to the agent without further human input.
    pub fn releases(self) -> bool {
        matches!(
            self,
            Outcome::Allow | Outcome::AllowWithConstraints | Outcome::Remediate
        )
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_total_and_deny_wins() {
        for a in Outcome::ALL {
            for b in Outcome::ALL {
                assert_eq!(a.most_restrictive(b), b.most_restrictive(a));
                assert_eq!(a.most_restrictive(Outcome::Deny), Outcome::Deny);
                assert_eq!(a.most_restrictive(Outcome::Allow), a);
            }
        }
        assert!(Outcome::RequireApproval.rank() > Outcome::Remediate.rank());
        assert!(Outcome::Remediate.rank() > Outcome::AllowWithConstraints.rank());
    }
}
