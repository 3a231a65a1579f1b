//! Check-digit algorithms of Russian identifiers and payment cards.
//!
//! Each function takes the digits as values 0..=9 (not ASCII) and says
//! whether they form a valid identifier. A number that fails its checksum is
//! not personal data: it is a typo, a test value or something else.

/// SNILS: 11 digits; the last two are the check number of the first nine.
///
/// S = Σ dᵢ·(9−i) for i in 0..9; S < 100 → S; S = 100 or 101 → 0;
/// S > 101 → S mod 101 (where 100 becomes 0). Numbers up to 001-001-998
/// were issued without a checksum and are rejected here.
pub fn snils(d: &[u8]) -> bool {
    if d.len() != 11 {
        return false;
    }
    let body = d[..9].iter().fold(0u32, |a, &x| a * 10 + u32::from(x));
    if body <= 1_001_998 {
        return false;
    }
    let s: u32 = d[..9]
        .iter()
        .enumerate()
        .map(|(i, &x)| u32::from(x) * (9 - i as u32))
        .sum();
    let check = match s {
        0..=99 => s,
        100 | 101 => 0,
        _ => match s % 101 {
            100 => 0,
            r => r,
        },
    };
    check == u32::from(d[9]) * 10 + u32::from(d[10])
}

fn weighted_mod11(d: &[u8], weights: &[u32]) -> u8 {
    let s: u32 = d.iter().zip(weights).map(|(&x, &w)| u32::from(x) * w).sum();
    ((s % 11) % 10) as u8
}

/// INN of an individual: 12 digits, two check digits.
pub fn inn12(d: &[u8]) -> bool {
    const W11: [u32; 10] = [7, 2, 4, 10, 3, 5, 9, 4, 6, 8];
    const W12: [u32; 11] = [3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8];
    d.len() == 12
        && !d[..10].iter().all(|&x| x == 0)
        && weighted_mod11(&d[..10], &W11) == d[10]
        && weighted_mod11(&d[..11], &W12) == d[11]
}

/// INN of a company: 10 digits, one check digit.
pub fn inn10(d: &[u8]) -> bool {
    const W: [u32; 9] = [2, 4, 10, 3, 5, 9, 4, 6, 8];
    d.len() == 10 && !d[..9].iter().all(|&x| x == 0) && weighted_mod11(&d[..9], &W) == d[9]
}

/// OGRN (13 digits) and OGRNIP (15 digits) of registered businesses.
pub fn ogrn(d: &[u8]) -> bool {
    let n = d.len();
    if n != 13 && n != 15 {
        return false;
    }
    let m = if n == 13 { 11u64 } else { 13 };
    let body = d[..n - 1].iter().fold(0u64, |a, &x| a * 10 + u64::from(x));
    (body % m % 10) as u8 == d[n - 1]
}

/// Luhn (mod 10), used by payment cards and the OMS single policy number.
pub fn luhn(d: &[u8]) -> bool {
    if d.len() < 2 || d.iter().all(|&x| x == 0) {
        return false;
    }
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| {
            let x = u32::from(x);
            if i % 2 == 1 {
                let y = x * 2;
                if y > 9 { y - 9 } else { y }
            } else {
                x
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Card schemes by issuer prefix (IIN) and length: MIR, Visa, Mastercard,
/// American Express, JCB, UnionPay, Discover. Maestro's wide 56–69 range is
/// left out on purpose: it would claim most OMS numbers that start with 6,
/// and Maestro cards are rare in Russia; they still match as `card` after
/// a card keyword.
pub fn card_scheme(d: &[u8]) -> Option<&'static str> {
    let p = |n: usize| d[..n].iter().fold(0u32, |a, &x| a * 10 + u32::from(x));
    let len = d.len();
    if len < 13 {
        return None;
    }
    let (p2, p4) = (p(2), p(4));
    match (p2, p4, len) {
        (_, 2200..=2204, 16..=19) => Some("mir"),
        (_, 2221..=2720, 16) => Some("mastercard"),
        (51..=55, _, 16) => Some("mastercard"),
        (40..=49, _, 13 | 16 | 19) => Some("visa"),
        (34 | 37, _, 15) => Some("amex"),
        (35, 3528..=3589, 16..=19) => Some("jcb"),
        (62, _, 16..=19) => Some("unionpay"),
        (_, 6011, 16..=19) | (65, _, 16..=19) => Some("discover"),
        _ => None,
    }
}

/// Passport series: the first two digits are an OKATO region code, the
/// next two the year the blank was printed (1997 onwards).
pub fn passport_series(d: &[u8], current_year_2digit: u8) -> bool {
    // OKATO codes of the federal subjects (first level).
    const REGIONS: &[u8] = &[
        1, 3, 4, 5, 7, 8, 10, 11, 12, 14, 15, 17, 18, 19, 20, 22, 24, 25, 26, 27, 28, 29, 30, 32,
        33, 34, 35, 36, 37, 38, 40, 41, 42, 44, 45, 46, 47, 49, 50, 52, 53, 54, 56, 57, 58, 60, 61,
        63, 64, 65, 66, 67, 68, 69, 70, 71, 73, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87,
        88, 89, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99,
    ];
    if d.len() < 4 {
        return false;
    }
    let region = d[0] * 10 + d[1];
    let year = d[2] * 10 + d[3];
    REGIONS.contains(&region) && (year >= 97 || year <= current_year_2digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits(s: &str) -> Vec<u8> {
        s.bytes()
            .filter(u8::is_ascii_digit)
            .map(|b| b - b'0')
            .collect()
    }

    #[test]
    fn snils_table() {
        let cases = [
            ("worked example", "112-233-445 95", true),
            ("S = 100 edge case", "118-013-204 00", true),
            ("corpus std", "808-311-574 87", true),
            ("off by one", "112-233-445 96", false),
            ("no checksum range", "001-001-998 00", false),
            ("wrong length", "112-233-445 9", false),
            ("S > 101", "987-654-321 00", {
                // 9*9+8*8+7*7+6*6+5*5+4*4+3*3+2*2+1*1 = 285; 285 mod 101 = 83
                false
            }),
            ("S > 101 valid", "987-654-321 83", true),
        ];
        for (name, input, want) in cases {
            assert_eq!(snils(&digits(input)), want, "{name}");
        }
    }

    #[test]
    fn inn_table() {
        assert!(inn12(&digits("123456789047")), "worked example");
        assert!(!inn12(&digits("123456789048")));
        assert!(!inn12(&digits("123456789037")));
        assert!(inn10(&digits("7707083893")), "worked example");
        assert!(!inn10(&digits("7707083894")));
        assert!(!inn10(&digits("0000000000")));
        assert!(!inn12(&digits("000000000000")));
    }

    #[test]
    fn ogrn_table() {
        assert!(ogrn(&digits("1027700132195")), "worked example");
        assert!(!ogrn(&digits("1027700132196")));
        assert!(ogrn(&digits("304500116000157")), "OGRNIP");
    }

    #[test]
    fn luhn_and_schemes() {
        assert!(luhn(&digits("2200 0000 0000 0004")));
        assert!(!luhn(&digits("2200 0000 0000 0005")));
        assert!(luhn(&digits("4111 1111 1111 1111")));
        assert!(!luhn(&digits("0000 0000 0000 0000")));
        assert_eq!(card_scheme(&digits("2200000000000004")), Some("mir"));
        assert_eq!(card_scheme(&digits("4111111111111111")), Some("visa"));
        assert_eq!(card_scheme(&digits("5500000000000004")), Some("mastercard"));
        assert_eq!(card_scheme(&digits("378282246310005")), Some("amex"));
        assert_eq!(card_scheme(&digits("8242185435484167")), None);
    }

    #[test]
    fn passport_series_table() {
        assert!(passport_series(&digits("4508"), 26));
        assert!(passport_series(&digits("4097"), 26), "1997 blanks");
        assert!(!passport_series(&digits("4096"), 26), "before 1997");
        assert!(!passport_series(&digits("4527"), 26), "future year");
        assert!(!passport_series(&digits("0208"), 26), "no region 02");
    }
}
