@R-LAB-1 @R-LAB-2 @R-LAB-3 @R-LAB-5
Feature: A 22-hour test slot on a rig
  Product developers book a rig that holds every meter variant, in slots of 22 hours that keep
  running across midnight, with a usage agreement and at least 7 days ahead.

  Background:
    Given the lab clock reads 2026-12-01T06:00:00 in Brussels
    And ACME Dongles has signed a usage agreement

  Scenario: Booking rules are enforced with a reason
    Then ACME Dongles cannot book rig-a starting 2026-12-05T08:00:00 because "at least 7 days ahead"
    When ACME Dongles books rig-a starting 2026-12-08T20:00:00
    Then the slot ends 22 hours later, at 2026-12-09T18:00:00 in Brussels
    And ACME Dongles cannot book rig-a starting 2026-12-09T08:00:00 because "is taken"
    And ACME Dongles can book rig-b starting 2026-12-09T08:00:00

  @slow
  Scenario: Every meter variant delivers data for 22 hours across midnight, then the hard stop
    Given ACME Dongles has booked rig-a starting 2026-12-08T20:00:00
    And rig-a is attached to the lab
    When the lab clock moves to 2026-12-08T20:00:00 in Brussels
    And the lab runs for 22 hours
    Then every meter variant of rig-a delivered all its telegrams to the platform
    When the lab runs for 10 minutes
    Then no meter of rig-a sent a telegram after the slot ended
