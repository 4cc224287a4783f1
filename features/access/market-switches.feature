@R-MAN-5 @R-NRT-7 @R-ACC-2 @R-MAN-2 @R-MAN-6 @R-MAN-7
Feature: Market scenarios on an access point
  A supplier switch does not touch mandates. A customer switch, a combined customer and
  supplier switch, a move-out and MOZA set the end of the mandate's consumption period to the
  scenario's date, even backdated; data before it stays readable. A new grid user never sees
  the previous one's history.

  Background:
    Given the lab clock reads 2026-06-01T08:00:00 in Brussels
    And rig-a is attached to the lab as an ephemeral CI rig
    And G1 is the grid user of the fluvius-t211-1.7.1 meter's access point
    And ESP Alpha is onboarded with a webhook endpoint
    And G1 has granted ESP Alpha a quarter-hour mandate on the fluvius-t211-1.7.1 meter from 2026-05-01
    And the lab runs for 121 minutes

  Scenario: A supplier switch changes nothing
    When a SS takes effect on the access point of the fluvius-t211-1.7.1 meter at 2026-06-01T09:00:00 with new grid user nobody
    Then ESP Alpha reads 8 quarter hours of the fluvius-t211-1.7.1 meter from 2026-06-01T08:00:00 to 2026-06-01T10:00:00
    And G1 reads 8 quarter hours of the fluvius-t211-1.7.1 meter from 2026-06-01T08:00:00 to 2026-06-01T10:00:00

  Scenario Outline: A backdated <kind> truncates the period at its date; earlier data stays readable
    When a <kind> takes effect on the access point of the fluvius-t211-1.7.1 meter at 2026-06-01T09:00:00 with new grid user <new>
    Then ESP Alpha reads 4 quarter hours of the fluvius-t211-1.7.1 meter from 2026-06-01T08:00:00 to 2026-06-01T10:00:00
    And ESP Alpha was notified of period_truncated with a valid signature
    And G1 reads 4 quarter hours of the fluvius-t211-1.7.1 meter from 2026-06-01T08:00:00 to 2026-06-01T10:00:00
    And <new> reads 4 quarter hours of the fluvius-t211-1.7.1 meter from 2026-06-01T08:00:00 to 2026-06-01T10:00:00

    Examples:
      | kind | new    |
      | CS   | G2     |
      | CCSS | G2     |
      | MO   | nobody |
      | MOZA | nobody |
