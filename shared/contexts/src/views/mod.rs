//! The view context (CQRS): read models that other contexts' events keep up to date, so that
//! what guests and hosts look at never asks the core contexts — and a view that falls behind
//! never slows a booking.
//!
//! | item | pk | sk |
//! |---|---|---|
//! | a reservation's status | `RESERVATION#<id>` | `VIEW` |
//! | a guest's reservations | `GUEST#<guestId>` | `RES#<checkIn>#<id>` |
//! | a host's rooms | `HOST#<hostId>` | `ROOM#<roomId>` |
//! | a host's stays | `HOST#<hostId>` | `STAY#<checkIn>#<id>` |
//! | a host's revenue per currency | `HOST#<hostId>` | `REVENUE#<currency>` |
//! | a host's latest bookings | `HOST#<hostId>` | `LATEST#<bookedAt>#<id>` |
//! | a host's counts (active rooms) | `HOST#<hostId>` | `SUMMARY` |
//! | a host's booked rooms on one night | `HOST#<hostId>` | `NIGHT#<date>` |
//!
//! The counts are what keep the dashboard's cost flat: it reads 30 night counters and one
//! summary, never every room and stay.

mod projector;
mod queries;
pub mod rows;

pub use projector::ViewProjector;
pub use queries::{
    host_dashboard, my_reservations, reservation_status, DashboardCursors, HostDashboard, Occupancy, ReservationPage, Revenue, ViewError, DASHBOARD_PAGE,
};

pub mod keys {
    use crate::storage::Key;

    pub fn reservation(id: &str) -> Key {
        Key::new(format!("RESERVATION#{id}"), "VIEW")
    }
    pub fn guest_reservation(guest: &str, check_in: &str, id: &str) -> Key {
        Key::new(format!("GUEST#{guest}"), format!("RES#{check_in}#{id}"))
    }
    pub fn host_room(host: &str, room: &str) -> Key {
        Key::new(format!("HOST#{host}"), format!("ROOM#{room}"))
    }
    pub fn host_stay(host: &str, check_in: &str, id: &str) -> Key {
        Key::new(format!("HOST#{host}"), format!("STAY#{check_in}#{id}"))
    }
    pub fn host_revenue(host: &str, currency: &str) -> Key {
        Key::new(format!("HOST#{host}"), format!("REVENUE#{currency}"))
    }
    pub fn host_latest(host: &str, at: i64, id: &str) -> Key {
        Key::new(format!("HOST#{host}"), format!("LATEST#{at:012}#{id}"))
    }
    pub fn host_summary(host: &str) -> Key {
        Key::new(format!("HOST#{host}"), "SUMMARY")
    }
    pub fn host_night(host: &str, night: &str) -> Key {
        Key::new(format!("HOST#{host}"), format!("NIGHT#{night}"))
    }
}
