import Foundation
import JobCore
import Model

extension RequestDecoder {
    /// The rules a request must meet on its layout: `JobParameters.validate(for:)` with the layout's
    /// end-of-row flag (the same rules submit checks, so what submit accepts the decoder accepts). Any
    /// rows x columns decodes: the window rules speak of the width W alone (`grid`).
    static func validate(_ parameters: JobParameters, layout: ImageLayout, limits: ModelLimits) throws {
        var limits = limits
        limits.endOfRowLayout = layout.hasEndOfRow
        try parameters.validate(for: limits)
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
