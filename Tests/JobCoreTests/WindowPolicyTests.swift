import Foundation
import JobCore
import Testing

/// The official schedule is a policy of its own; its text form, what jobs rows store, is unchanged.
@Suite struct WindowPolicyTests {
    @Test func everyFormParsesItsExampleAndPrintsItBack() throws {
        for form in WindowPolicy.forms {
            let p = try WindowPolicy(parsing: form.example)
            #expect(p.description == form.example)
            #expect(try WindowPolicy(parsing: p.description) == p)
        }
        #expect(WindowPolicy.forms.map(\.syntax) == ["ntp", "zipar:S", "adaptive:SMIN", "official:S", "sjd:K", "zipar-sjd:S,K"])
    }

    /// Rows written before the official schedule became a policy hold `official:S`; `zipar:S+official` is the
    /// other spelling prompt files and flags took. Both read as `.official`, and are stored as `official:S`.
    @Test func officialReadsFromBothSpellings() throws {
        #expect(try WindowPolicy(parsing: "official:8") == .official(window: 8))
        #expect(try WindowPolicy(parsing: " Zipar:8+Official ") == .official(window: 8))
        #expect(WindowPolicy.official(window: 8).description == "official:8")
        for bad in ["official", "official:0", "official:x", "ntp+official", "adaptive:4+official", "zipar-sjd:4,2+official"] {
            #expect(throws: PolicyError.self, "\(bad)") { try WindowPolicy(parsing: bad) }
        }
        let p = try JobParameters(values: ["policy": .text("official:8")])
        #expect(p.policy == .official(window: 8) && p.policyText == "official:8")
        #expect(p.values.first { $0.key == "policy" }?.value == .text("official:8"))
    }

    @Test func officialFollowsTheWindowRules() throws {
        let classModel = ModelLimits.classModel(grid: 16, numClasses: 10)
        try JobParameters(policy: .official(window: 16)).validate(for: classModel)
        // official:W+1 is the row above complete before a row starts: ntp's order, accepted on every layout.
        try JobParameters(policy: .official(window: 17)).validate(for: classModel)
        #expect(throws: ParameterError.self) { try JobParameters(policy: .official(window: 18)).validate(for: classModel) }
        #expect(throws: ParameterError.self) { try JobParameters(policy: .zipar(window: 17)).validate(for: classModel) }
        #expect(throws: ParameterError.self) { try JobParameters(policy: .official(window: 0)).validate() }
        // On the end-of-row layout the window counts the end-of-row token: official:1 has no image token above.
        var text = JobParameters(policy: .official(window: 1))
        text.prompt = "a boot"
        #expect(throws: ParameterError.self) { try text.validate(for: .textModel(grid: 8)) }
        text.policy = .official(window: 9)   // checked as zipar:8
        try text.validate(for: .textModel(grid: 8))
    }

    /// The prompt-file key reference and every `--policy` help are written from one list.
    @Test func helpListsEveryPolicy() {
        let help = JobParameters.field(key: "policy")!.help
        for form in WindowPolicy.forms {
            #expect(help.contains(form.syntax) && WindowPolicy.syntaxList.contains(form.syntax))
        }
        #expect(WindowPolicy.syntaxList.hasSuffix(" or zipar-sjd:S,K"))
    }
}
