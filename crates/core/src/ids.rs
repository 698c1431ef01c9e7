//! Newtype identifiers. Each wraps an `Arc<str>` so that cloning an id into an
//! event, a record and an index costs a reference count, not an allocation.
//! Validation (length, characters) happens once, at the API edge.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Arc<str>);

        impl $name {
            pub fn new(s: impl AsRef<str>) -> Self {
                Self(Arc::from(s.as_ref()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), &*self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self::new(s)
            }
        }
    };
}

string_id!(
    /// An agent, as named in the agent directory and the `sub` claim of its token.
    AgentId
);
string_id!(
    /// A call, unique for the life of the deployment.
    CallId
);
string_id!(
    /// A queue, as named in the configuration.
    QueueName
);
string_id!(
    /// A skill from the configured skill catalog.
    SkillName
);
string_id!(
    /// A customer in the customer directory.
    CustomerId
);
string_id!(
    /// A callback promised to a customer.
    CallbackId
);
string_id!(
    /// A case (a complaint, a repair request, an inquiry).
    CaseId
);
