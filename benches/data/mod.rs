//! Traffic the benchmarks generate for themselves: deterministic, so every
//! run measures the same bytes, and no files to ship.
#![allow(dead_code)]

/// A small deterministic generator (xorshift), so the data is the same on
/// every run and needs no files.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[(self.next() % v.len() as u64) as usize]
    }
    pub fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + (self.next() % 10) as u8))
            .collect()
    }
}

pub const WORDS: &[&str] = &[
    "онкология",
    "консультация",
    "врач",
    "приём",
    "пациент",
    "лечение",
    "химиотерапия",
    "диагностика",
    "отделение",
    "центр",
    "амбулаторной",
    "помощи",
    "Санкт-Петербург",
    "запись",
    "услуги",
    "специалист",
    "маммолог",
    "обследование",
    "результаты",
    "анализы",
    "и",
    "в",
    "на",
];

/// The seed of [`clean_html`]'s page.
pub const PAGE_SEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// A clinic page with no personal data: Cyrillic text, markup, classes,
/// dates, prices, times, short numbers.
pub fn clean_html(size: usize) -> Vec<u8> {
    clean_html_seeded(size, PAGE_SEED)
}

/// [`clean_html`] from another seed: a page of the same kind with other
/// words, numbers and order.
pub fn clean_html_seeded(size: usize, seed: u64) -> Vec<u8> {
    let mut r = Rng(seed);
    let mut s = String::from(
        "<!DOCTYPE html><html lang=\"ru\"><head><meta charset=\"utf-8\"><title>Центр онкологии</title><link rel=\"stylesheet\" href=\"/local/templates/main/css/style.css?v=1697812345\"></head><body>\n",
    );
    while s.len() < size {
        match r.next() % 6 {
            0 => s.push_str(&format!(
                "<div class=\"news-item col-md-6\"><h3><a href=\"/news/{}/\">{} {}</a></h3><span class=\"date\">{:02}.{:02}.2024</span></div>\n",
                r.next() % 5000, r.pick(WORDS), r.pick(WORDS), r.next() % 28 + 1, r.next() % 12 + 1
            )),
            1 => s.push_str(&format!(
                "<tr><td>{}.{}</td><td>{} {}</td><td>{} {:03},00&nbsp;₽</td></tr>\n",
                r.next() % 9 + 1, r.next() % 20, r.pick(WORDS), r.pick(WORDS), r.next() % 30 + 1, r.next() % 1000
            )),
            2 => s.push_str(&format!(
                "<p>Приём ведёт {} с {:02}:00 до {:02}:30, кабинет № {}. {} {} {} {}.</p>\n",
                r.pick(WORDS), r.next() % 12 + 8, r.next() % 8 + 12, r.next() % 400, r.pick(WORDS), r.pick(WORDS), r.pick(WORDS), r.pick(WORDS)
            )),
            3 => s.push_str(&format!(
                "<img src=\"/upload/iblock/{}/{}.jpg\" width=\"{}\" height=\"{}\" alt=\"{}\" loading=\"lazy\">\n",
                r.digits(3), r.digits(8), r.next() % 800 + 100, r.next() % 600 + 100, r.pick(WORDS)
            )),
            4 => s.push_str(&format!(
                "<li class=\"menu__item\"><a href=\"/services/?SECTION_ID={}&amp;PAGEN_1={}\">{} {}</a></li>\n",
                r.next() % 90, r.next() % 9, r.pick(WORDS), r.pick(WORDS)
            )),
            _ => {
                for _ in 0..12 {
                    s.push_str(r.pick(WORDS));
                    s.push(' ');
                }
                s.push('\n');
            }
        }
    }
    s.into_bytes()
}

pub fn snils(r: &mut Rng) -> String {
    loop {
        let d: Vec<u32> = (0..9).map(|_| (r.next() % 10) as u32).collect();
        let s: u32 = d.iter().enumerate().map(|(i, x)| x * (9 - i as u32)).sum();
        let c = match s {
            0..=99 => s,
            100 | 101 => 0,
            _ => s % 101 % 100,
        };
        let t: String = d.iter().map(|x| char::from(b'0' + *x as u8)).collect();
        if t.as_str() > "001001998" {
            return format!("{}-{}-{}+{:02}", &t[..3], &t[3..6], &t[6..], c);
        }
    }
}

pub fn luhn16(r: &mut Rng, prefix: &str) -> String {
    let mut d: Vec<u32> = prefix.bytes().map(|b| u32::from(b - b'0')).collect();
    while d.len() < 15 {
        d.push((r.next() % 10) as u32);
    }
    let s: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| {
            if i % 2 == 0 {
                let y = x * 2;
                if y > 9 { y - 9 } else { y }
            } else {
                x
            }
        })
        .sum();
    d.push((10 - s % 10) % 10);
    d.iter().map(|x| char::from(b'0' + *x as u8)).collect()
}

/// Bitrix form bodies, each field personal data.
pub fn dense_forms(size: usize) -> Vec<u8> {
    let mut r = Rng(0xD1B5_4A32_D192_ED03);
    let mut s = String::new();
    while s.len() < size {
        s.push_str(&format!(
            "sessid={}&WEB_FORM_ID=7&form_text_5=%D0%98%D0%B2%D0%B0%D0%BD%D0%BE%D0%B2%D0%B0&form_text_51=%2B7%28{}%29{}-{}-{}&form_email_7=user{}%40mail.ru&form_date_1=16.07.1956&form_text_57={}&form_text_10={}&form_text_46={}+{}+{}&form_textarea_8=%D0%A1%D0%9D%D0%98%D0%9B%D0%A1+{}&web_form_submit=Y\n",
            r.digits(32), 900 + r.next() % 99, r.digits(3), r.digits(2), r.digits(2), r.digits(4), snils(&mut r), luhn16(&mut r, "7"), 40 + r.next() % 5, 10 + r.next() % 15, r.digits(6), snils(&mut r)
        ));
    }
    s.into_bytes()
}

/// JSON API responses: patient lists with some personal data in each record.
pub fn json_api(size: usize) -> Vec<u8> {
    let mut r = Rng(0x2545_F491_4F6C_DD1D);
    let mut s = String::from("{\"status\":\"ok\",\"items\":[");
    while s.len() < size {
        s.push_str(&format!(
            "{{\"id\":{},\"uuid\":\"{:016x}\",\"createdAt\":{},\"doctor\":\"{} {}\",\"cabinet\":{},\"price\":\"{}.00\",\"patient\":{{\"phone\":\"+7{}{}\",\"email\":\"p{}@mail.ru\",\"snils\":\"{}\",\"omsPolicy\":\"{}\"}},\"slots\":[\"09:00\",\"09:30\",\"10:00\"]}},",
            r.next() % 100000, r.next(), 1_700_000_000 + r.next() % 10_000_000, r.pick(WORDS), r.pick(WORDS), r.next() % 400, r.next() % 9000, 9, r.digits(9), r.digits(4), snils(&mut r).replace('+', " "), luhn16(&mut r, "8")
        ));
    }
    s.push_str("{}]}");
    s.into_bytes()
}

/// A 1 KB-scale JSON answer with no personal data: a doctor's schedule.
pub fn clean_json(size: usize) -> Vec<u8> {
    let mut r = Rng(0x5851_F42D_4C95_7F2D);
    let mut s = String::from("{\"status\":\"ok\",\"slots\":[");
    while s.len() + 120 < size {
        s.push_str(&format!(
            "{{\"id\":{},\"date\":\"2026-{:02}-{:02}\",\"time\":\"{:02}:{:02}\",\"cabinet\":{},\"price\":\"{}.00\"}},",
            r.next() % 100000, r.next() % 12 + 1, r.next() % 28 + 1, r.next() % 10 + 8, r.next() % 2 * 30, r.next() % 400, r.next() % 9000
        ));
    }
    s.push_str("{}]}");
    s.into_bytes()
}
