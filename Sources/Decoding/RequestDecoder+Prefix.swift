import Foundation
import Model

extension RequestDecoder {
    /// The rules a request must meet on its layout. The end-of-row layout adds its own:
    /// - `official:S` is the authors' Lumina-mGPT loop, whose window S counts the end-of-row token before a
    ///   row: S - 1 image tokens above, so S runs from 2 (one token above) to W + 1 (= ntp). It is checked
    ///   as the equivalent `zipar:(S-1)` wavefront, so the grid-width rule applies to S - 1;
    /// - the speculative Jacobi policies are not available there (their lanes assume LlamaGen's positions).
    static func validate(_ parameters: JobParameters, layout: ImageLayout, limits: ModelLimits) throws {
        guard layout.rows == layout.columns else {
            throw ParameterError(field: "size", message: "\(layout.rows)x\(layout.columns): only square grids are decoded")
        }
        var checked = parameters
        if layout.hasEndOfRow {
            if parameters.policy.jacobiWindow != nil {
                throw ParameterError(field: "policy", message: "\(parameters.policyText) is not available for text models "
                                     + "(end-of-row layout); use ntp, zipar:S, adaptive:SMIN or official:S")
            }
            if parameters.officialSchedule, case .zipar(let s) = parameters.policy {
                guard s >= 2 else {
                    throw ParameterError(field: "policy", message: "official:\(s): on the end-of-row layout the window counts the "
                                         + "end-of-row token, so it must be at least 2 (official:2 = one image token above)")
                }
                checked.policy = .zipar(window: s - 1)
            }
        }
        try checked.validate(for: limits)
    }

    /// The next prefill queries, at most `maxQueries` engine queries. Both prefixes are right-aligned to
    /// `layout.prefixLength` (`DecodingSetup`): a position both cover is one query with a twin (the class and
    /// the null class, or prompt and unconditional prompt tokens), a position only one covers runs in that
    /// sequence alone. The last position ([IMG], or LlamaGen's last class token) predicts x(0,0).
    func prefixQueries(maxQueries: Int) -> [PlannedQuery] {
        let last = clsTokenNum - 1
        let condStart = clsTokenNum - setup.cond.count
        let uncondStart = usesGuidance ? clsTokenNum - setup.uncond.count : clsTokenNum
        var out: [PlannedQuery] = []
        var budget = maxQueries
        for p in prefixNext...last {
            let cond = p >= condStart ? setup.cond[p - condStart] : nil
            let uncond = p >= uncondStart ? setup.uncond[p - uncondStart] : nil
            var pq: PlannedQuery
            if let cond {
                pq = query(p, cond, p == last ? .decode(token: 0) : .prefix)
                if uncond == nil { pq.guided = false; pq.side = .conditional }
                else if uncond != cond { pq.twinInput = uncond }
            } else if let uncond {
                pq = PlannedQuery(position: p, input: uncond, action: .prefix, isPlaceholder: false, guided: false)
                pq.side = .unconditional
            } else {
                continue
            }
            if pq.cost > budget { break }
            out.append(pq)
            budget -= pq.cost
        }
        return out
    }
}
