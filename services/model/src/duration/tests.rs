use super::*;

const ALL: [Syntax; 3] = [Syntax::WHOLE, Syntax::GO, Syntax::SPEC];

fn kind(text: &str, syntax: Syntax) -> ErrorKind {
    parse(text, syntax).unwrap_err().kind().clone()
}

#[test]
fn every_unit_and_combination_parses_in_every_syntax() {
    for syntax in ALL {
        assert_eq!(parse("500ms", syntax), Ok(Duration::from_millis(500)));
        assert_eq!(parse("30s", syntax), Ok(Duration::from_secs(30)));
        assert_eq!(parse("10m", syntax), Ok(Duration::from_secs(600)));
        assert_eq!(parse("2h", syntax), Ok(Duration::from_secs(7200)));
        assert_eq!(parse("1m30s", syntax), Ok(Duration::from_secs(90)));
        assert_eq!(parse("1h30m", syntax), Ok(Duration::from_secs(5400)));
        assert_eq!(
            parse("1h2m3s4ms", syntax),
            Ok(Duration::from_millis(3_723_004))
        );
        assert_eq!(parse(" 20s ", syntax), Ok(Duration::from_secs(20)));
    }
}

#[test]
fn zero_is_written_alone_or_with_a_unit() {
    for syntax in ALL {
        for zero in ["0", "0s", "0ms", " 0 "] {
            assert_eq!(parse(zero, syntax), Ok(Duration::ZERO), "{zero}");
        }
    }
}

#[test]
fn fractions_are_read_only_when_the_syntax_allows_them() {
    assert_eq!(parse("1.5s", Syntax::GO), Ok(Duration::from_millis(1500)));
    assert_eq!(parse("0.25h", Syntax::GO), Ok(Duration::from_secs(900)));
    assert_eq!(
        parse("1.0005s", Syntax::GO),
        Ok(Duration::from_micros(1_000_500))
    );
    assert_eq!(
        parse("1m0.5s", Syntax::GO),
        Ok(Duration::from_millis(60_500))
    );
    assert_eq!(
        parse("0.1234567890123456789012345s", Syntax::GO),
        Ok(Duration::from_nanos(123_456_789))
    );
    for syntax in [Syntax::WHOLE, Syntax::SPEC] {
        assert_eq!(kind("1.5s", syntax), ErrorKind::NoUnit);
    }
    for bad in [".5s", "5.s", "1.2.3s", "."] {
        assert_eq!(kind(bad, Syntax::GO), ErrorKind::NoNumber, "{bad}");
    }
}

#[test]
fn only_the_spec_syntax_wants_the_largest_unit_first() {
    for text in ["1s1h", "1s1s", "30m1h", "500ms1s"] {
        assert_eq!(kind(text, Syntax::SPEC), ErrorKind::UnitOrder, "{text}");
    }
    assert_eq!(parse("1s1h", Syntax::WHOLE), Ok(Duration::from_secs(3601)));
    assert_eq!(parse("1s1s", Syntax::GO), Ok(Duration::from_secs(2)));
}

#[test]
fn each_kind_of_nonsense_is_named() {
    for syntax in ALL {
        for empty in ["", "   "] {
            assert_eq!(kind(empty, syntax), ErrorKind::Empty);
        }
        for no_number in ["s", "-1s", "1m-3s", "ms5"] {
            assert_eq!(kind(no_number, syntax), ErrorKind::NoNumber, "{no_number}");
        }
        for no_unit in ["10", "5", "10 s", "3 days", "00"] {
            assert_eq!(kind(no_unit, syntax), ErrorKind::NoUnit, "{no_unit}");
        }
        assert_eq!(kind("10sec", syntax), ErrorKind::UnknownUnit("sec".into()));
        assert_eq!(kind("1d", syntax), ErrorKind::UnknownUnit("d".into()));
        assert_eq!(kind("1e3s", syntax), ErrorKind::UnknownUnit("e".into()));
        for huge in ["99999999999999999999h", "9999999999999999999h"] {
            assert_eq!(kind(huge, syntax), ErrorKind::TooLarge, "{huge}");
        }
    }
}

#[test]
fn messages_quote_the_text_as_given() {
    let msg = |text: &str| parse(text, Syntax::SPEC).unwrap_err().to_string();
    assert_eq!(msg(""), "is empty");
    assert_eq!(msg("s"), "\"s\" is not a duration");
    assert_eq!(msg("30"), "\"30\" has a number without a unit");
    assert_eq!(msg("30x"), "\"30x\" has an unknown unit \"x\"");
    assert_eq!(
        msg("1s1m"),
        "\"1s1m\" repeats a unit or puts a smaller unit first"
    );
    assert_eq!(
        msg("99999999999999999999h"),
        "\"99999999999999999999h\" is too large"
    );
    let e = parse(" 3 days", Syntax::WHOLE).unwrap_err();
    assert_eq!(e.text(), " 3 days");
}

#[test]
fn format_writes_the_largest_units_first() {
    assert_eq!(format(Duration::from_secs(90)), "1m30s");
    assert_eq!(format(Duration::ZERO), "0s");
    assert_eq!(format(Duration::from_micros(999)), "0s");
    assert_eq!(format(Duration::from_millis(1500)), "1s500ms");
    assert_eq!(format(Duration::from_secs(50)), "50s");
    assert_eq!(format(Duration::from_secs(3600 * 25 + 1)), "25h1s");
}

#[test]
fn what_format_writes_parses_back_in_every_syntax() {
    let samples = [
        0,
        1,
        999,
        1_000,
        1_001,
        59_999,
        60_000,
        90_500,
        3_599_999,
        3_600_000,
        86_400_000,
        2_592_000_000,
        u64::from(u32::MAX) * 7,
    ];
    for ms in samples {
        let d = Duration::from_millis(ms);
        for syntax in ALL {
            assert_eq!(parse(&format(d), syntax), Ok(d), "{ms} ms");
        }
    }
}
