//! Message templates, in Korean and English. The template code also names the KakaoTalk
//! (Alimtalk) template the gateway sends.

use crate::domain::notification::Locale;
use crate::domain::stay::format_date;
use crate::domain::Money;
use crate::events::Event;

/// What one person is told about one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub template: &'static str,
    pub text: String,
}

/// What a message may say, taken from an event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    pub room_title: String,
    pub check_in: String,
    pub check_out: String,
    pub amount: Option<Money>,
    pub rating: u8,
    pub text: String,
}

impl Facts {
    pub fn of(event: &Event) -> Facts {
        let stay = |r: &crate::domain::reservation::Reservation, title: &Option<String>| Facts {
            room_title: title.clone().unwrap_or_default(),
            check_in: format_date(r.stay.check_in),
            check_out: format_date(r.stay.check_out),
            amount: Some(r.amount.clone()),
            ..Facts::default()
        };
        match event {
            Event::ReservationConfirmed(e) => stay(&e.reservation, &e.room_title),
            Event::ReservationCancelled(e) => stay(&e.reservation, &e.room_title),
            Event::ReservationAborted(e) => Facts {
                room_title: e.room_title.clone().unwrap_or_default(),
                check_in: format_date(e.stay.check_in),
                check_out: format_date(e.stay.check_out),
                amount: Some(e.amount.clone()),
                ..Facts::default()
            },
            Event::PaymentApproved(p) | Event::PaymentDeclined(p) | Event::PaymentRefunded(p) => Facts { amount: Some(p.amount.clone()), ..Facts::default() },
            Event::RoomRegistered(r) | Event::RoomModified(r) | Event::RoomDeleted(r) => Facts { room_title: r.title.clone(), ..Facts::default() },
            Event::ReviewWritten(w) => {
                Facts { room_title: w.room_title.clone().unwrap_or_default(), rating: w.review.rating, text: w.review.text.clone(), ..Facts::default() }
            }
        }
    }

    fn money(&self) -> String {
        self.amount.as_ref().map(Money::to_string).unwrap_or_default()
    }
}

/// The message for `template` in `locale`, filled from what the event says.
pub fn render(template: &'static str, locale: Locale, p: &Facts) -> Message {
    let room = p.room_title.as_str();
    let (check_in, check_out) = (p.check_in.as_str(), p.check_out.as_str());
    let text = match (template, locale) {
        ("reservation-confirmed", Locale::Korean) => format!("[bnb] 예약이 확정되었습니다: {room}, {check_in} ~ {check_out}, 결제 {}.", p.money()),
        ("reservation-confirmed", Locale::English) => format!("[bnb] Your stay at {room} is confirmed: {check_in} to {check_out}, paid {}.", p.money()),
        ("new-booking", Locale::Korean) => format!("[bnb] 새 예약: {room}, {check_in} ~ {check_out}, {}.", p.money()),
        ("new-booking", Locale::English) => format!("[bnb] New booking: {room}, {check_in} to {check_out}, {}.", p.money()),
        ("reservation-cancelled", Locale::Korean) => format!("[bnb] 예약이 취소되었습니다: {room}, {check_in} ~ {check_out}. 환불이 진행됩니다."),
        ("reservation-cancelled", Locale::English) => {
            format!("[bnb] Your reservation at {room} ({check_in} to {check_out}) is cancelled. A refund is on its way.")
        }
        ("booking-cancelled", Locale::Korean) => format!("[bnb] 예약 취소: {room}, {check_in} ~ {check_out}."),
        ("booking-cancelled", Locale::English) => format!("[bnb] Booking cancelled: {room}, {check_in} to {check_out}."),
        ("payment-refunded", Locale::Korean) => format!("[bnb] {} 환불되었습니다.", p.money()),
        ("payment-refunded", Locale::English) => format!("[bnb] {} has been refunded.", p.money()),
        ("booking-aborted", Locale::Korean) => {
            format!("[bnb] 결제가 지연되어 {room} 예약이 완료되지 않았습니다. 잠시 후 다시 시도해 주세요. 청구된 금액은 없습니다.")
        }
        ("booking-aborted", Locale::English) => {
            format!("[bnb] Payment was busy, so your booking of {room} did not go through. Please try again shortly; nothing was charged.")
        }
        ("room-deleted", Locale::Korean) => format!("[bnb] 숙소가 삭제되었습니다: {}. 예정된 예약은 취소 및 환불됩니다.", room),
        ("room-deleted", Locale::English) => format!("[bnb] Your room {} was deleted. Its upcoming stays are cancelled and refunded.", room),
        ("new-review", Locale::Korean) => {
            format!("[bnb] {}에 새 후기 ({}점): {}", room, p.rating, p.text)
        }
        ("new-review", Locale::English) => {
            format!("[bnb] New review of {} ({}/5): {}", room, p.rating, p.text)
        }
        (other, _) => format!("[bnb] {other}"),
    };
    Message { template, text }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_in_both_languages() {
        let p = Facts {
            room_title: "Hanok".into(),
            check_in: "2026-12-24".into(),
            check_out: "2026-12-26".into(),
            amount: Some(Money::new(240000, "KRW").unwrap()),
            ..Facts::default()
        };
        assert_eq!(render("reservation-confirmed", Locale::Korean, &p).text, "[bnb] 예약이 확정되었습니다: Hanok, 2026-12-24 ~ 2026-12-26, 결제 240000 KRW.");
        assert!(render("reservation-confirmed", Locale::English, &p).text.contains("is confirmed"));
        let usd = Facts { amount: Some(Money::new(1999, "USD").unwrap()), ..Facts::default() };
        assert_eq!(render("payment-refunded", Locale::English, &usd).text, "[bnb] 19.99 USD has been refunded.");
    }
}
