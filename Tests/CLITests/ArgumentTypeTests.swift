import CLISupport
import JobCore
import Model
import ModelCLI
import Testing

/// Flag values parse into their types, or are refused (a usage error), never silently replaced.
@Suite struct ArgumentTypeTests {
    @Test func durations() {
        #expect(DurationArgument(argument: "30s")?.seconds == 30)
        #expect(DurationArgument(argument: "15m")?.seconds == 900)
        #expect(DurationArgument(argument: "7d")?.seconds == 604_800)
        #expect(DurationArgument(argument: "12")?.seconds == 12)
        for bad in ["", "x", "-1s", "nan", "infs", "3w"] { #expect(DurationArgument(argument: bad) == nil, "\(bad)") }
    }

    @Test func enumsAndLists() {
        #expect(StorageChoice(argument: "f16") == .f16)
        #expect(StorageChoice(argument: "int8") == .int8)
        #expect(StorageChoice(argument: "f8") == nil)
        #expect(WindowPolicy(argument: "official:8") == .official(window: 8))
        #expect(WindowPolicy(argument: "adaptive:4+official") == nil)
        #expect(CommaList<WindowPolicy>(argument: "ntp,zipar:4")?.values.map(\.description) == ["ntp", "zipar:4"])
        #expect(CommaList<WindowPolicy>(argument: "ntp,bogus") == nil)
        #expect(CommaList<Int>(argument: "1,8")?.values == [1, 8])
    }

    @Test func exitCodesAreDocumented() {
        let help = ExitStatus.helpText(", 3 --wait saw failed jobs")
        #expect(help.contains("0 ok") && help.contains("1 failure") && help.contains("2 bad arguments") && help.contains("3 --wait"))
        #expect(ExitStatus.usage.rawValue == 2 && ExitStatus.jobsFailed.rawValue == 3)
    }
}
