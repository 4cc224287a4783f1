@R-LAB-4
Feature: Rig updates are announced to agreement holders
  Developers with a usage agreement are told when a rig changes: meter firmware, variants.

  Scenario: A firmware update on rig-a notifies every holder of a valid agreement
    Given the lab clock reads 2026-12-01T06:00:00 in Brussels
    And ACME Dongles has signed a usage agreement
    And Volt Labs has signed a usage agreement
    When the operator updates the firmware of fluvius-t211-1.7.1 on rig-a to 1.7.2
    Then ACME Dongles is notified that fluvius-t211-1.7.1 on rig-a went to firmware 1.7.2
    And Volt Labs is notified that fluvius-t211-1.7.1 on rig-a went to firmware 1.7.2
