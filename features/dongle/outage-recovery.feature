@R-NRT-2 @R-NRT-9 @R-NRT-10
Feature: Dongle outage and recovery
  Dongles fail in the field. After an outage a dongle sends the newest data first and then the
  backlog, so nothing is lost; supervision opens an incident and closes it by itself.

  Scenario: A 20-minute Wi-Fi loss loses nothing and the incident opens and closes
    Given the lab clock reads 2026-06-01T10:00:00 in Brussels
    And rig-a is attached to the lab as an ephemeral CI rig
    When the lab runs for 5 minutes
    And the dongle of fluvius-t211-1.7.1 loses its Wi-Fi for 20 minutes
    And the lab runs for 10 minutes
    Then supervision shows the dongle of fluvius-t211-1.7.1 offline with an open incident
    When the lab runs for 15 minutes
    Then every telegram of fluvius-t211-1.7.1 is stored exactly once
    And the offline incident of fluvius-t211-1.7.1 is closed
