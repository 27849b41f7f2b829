import Testing
@testable import OPSRunner
@Test func riskLevelsAreOrderedFromNoneToCritical() { #expect(Risk.none < Risk.low && Risk.high < Risk.critical) }
