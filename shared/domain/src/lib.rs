//! The domain core: the types of every context, with no knowledge of AWS, HTTP or I/O.

pub mod actor;
pub mod clock;

pub mod ids;
pub mod money;
pub mod notification;
pub mod payment;
pub mod reservation;
pub mod review;
pub mod room;
pub mod stay;
pub mod validation;

pub use actor::Actor;
pub use ids::{EventId, NotificationId, PaymentId, ReservationId, ReviewId, RoomId, UserId};
pub use money::{Currency, Money};
pub use stay::Stay;
pub use validation::{FieldError, Invalid};
