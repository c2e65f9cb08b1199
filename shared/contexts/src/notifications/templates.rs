//! Message templates, in Korean and English. The template code also names the KakaoTalk
//! (Alimtalk) template the gateway sends.

use serde_json::Value;

use crate::domain::notification::Locale;

/// What one person is told about one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub template: &'static str,
    pub text: String,
}

fn field<'a>(p: &'a Value, k: &str) -> &'a str {
    p.get(k).and_then(Value::as_str).unwrap_or("")
}

fn money(p: &Value) -> String {
    let amount = p.get("amount").and_then(|a| a.get("amount")).and_then(Value::as_i64).unwrap_or(0);
    let currency = p.get("amount").and_then(|a| a.get("currency")).and_then(Value::as_str).unwrap_or("");
    crate::domain::Money::new(amount.max(1), currency)
        .map(|m| if amount == 0 { format!("0 {currency}") } else { m.to_string() })
        .unwrap_or_else(|_| format!("{amount} {currency}"))
}

/// The message for `template` in `locale`, filled from the event's payload.
pub fn render(template: &'static str, locale: Locale, p: &Value) -> Message {
    let room = field(p, "roomTitle");
    let (check_in, check_out) = (field(p, "checkIn"), field(p, "checkOut"));
    let text = match (template, locale) {
        ("reservation-confirmed", Locale::Korean) => format!("[bnb] 예약이 확정되었습니다: {room}, {check_in} ~ {check_out}, 결제 {}.", money(p)),
        ("reservation-confirmed", Locale::English) => format!("[bnb] Your stay at {room} is confirmed: {check_in} to {check_out}, paid {}.", money(p)),
        ("new-booking", Locale::Korean) => format!("[bnb] 새 예약: {room}, {check_in} ~ {check_out}, {}.", money(p)),
        ("new-booking", Locale::English) => format!("[bnb] New booking: {room}, {check_in} to {check_out}, {}.", money(p)),
        ("reservation-cancelled", Locale::Korean) => format!("[bnb] 예약이 취소되었습니다: {room}, {check_in} ~ {check_out}. 환불이 진행됩니다."),
        ("reservation-cancelled", Locale::English) => {
            format!("[bnb] Your reservation at {room} ({check_in} to {check_out}) is cancelled. A refund is on its way.")
        }
        ("booking-cancelled", Locale::Korean) => format!("[bnb] 예약 취소: {room}, {check_in} ~ {check_out}."),
        ("booking-cancelled", Locale::English) => format!("[bnb] Booking cancelled: {room}, {check_in} to {check_out}."),
        ("payment-refunded", Locale::Korean) => format!("[bnb] {} 환불되었습니다.", money(p)),
        ("payment-refunded", Locale::English) => format!("[bnb] {} has been refunded.", money(p)),
        ("booking-aborted", Locale::Korean) => {
            format!("[bnb] 결제가 지연되어 {room} 예약이 완료되지 않았습니다. 잠시 후 다시 시도해 주세요. 청구된 금액은 없습니다.")
        }
        ("booking-aborted", Locale::English) => {
            format!("[bnb] Payment was busy, so your booking of {room} did not go through. Please try again shortly; nothing was charged.")
        }
        ("room-deleted", Locale::Korean) => format!("[bnb] 숙소가 삭제되었습니다: {}. 예정된 예약은 취소 및 환불됩니다.", field(p, "title")),
        ("room-deleted", Locale::English) => format!("[bnb] Your room {} was deleted. Its upcoming stays are cancelled and refunded.", field(p, "title")),
        ("new-review", Locale::Korean) => {
            format!("[bnb] {}에 새 후기 ({}점): {}", room, p.get("rating").and_then(Value::as_i64).unwrap_or(0), field(p, "text"))
        }
        ("new-review", Locale::English) => {
            format!("[bnb] New review of {} ({}/5): {}", room, p.get("rating").and_then(Value::as_i64).unwrap_or(0), field(p, "text"))
        }
        (other, _) => format!("[bnb] {other}"),
    };
    Message { template, text }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_read_in_both_languages() {
        let p = json!({"roomTitle": "Hanok", "checkIn": "2026-12-24", "checkOut": "2026-12-26", "amount": {"amount": 240000, "currency": "KRW"}});
        assert_eq!(render("reservation-confirmed", Locale::Korean, &p).text, "[bnb] 예약이 확정되었습니다: Hanok, 2026-12-24 ~ 2026-12-26, 결제 240000 KRW.");
        assert!(render("reservation-confirmed", Locale::English, &p).text.contains("is confirmed"));
        let usd = json!({"amount": {"amount": 1999, "currency": "USD"}});
        assert_eq!(render("payment-refunded", Locale::English, &usd).text, "[bnb] 19.99 USD has been refunded.");
    }
}
