import Foundation
import Model

/// The drafts of the speculative Jacobi policies (`sjd:K`, `zipar-sjd:S,K`; docs/decoding.md).
///
/// A lane is a run of raster tokens decoded by one window: the whole grid for sjd, each row for zipar-sjd.
/// In a pass a lane's window covers its first non-final token `n` and up to K - 1 tokens after it. The query
/// predicting `n` has a final input, so `n` comes out exact (its draft verified, or sampled when it has none);
/// every later query has the draft of the token before it as input. Verification runs left to right; after
/// the first rejection the rest of the window is re-drafted from the distributions this pass gave it.
/// On the end-of-row layout the window covers image tokens only: the query predicting a row's first token
/// feeds the known end-of-row token, and the row's last token, when a draft, gets a write of its own.
struct JacobiState {
    struct Draft: Sendable, Equatable {
        var token: Int
        /// The distribution the draft was drawn from: its `p_old` in the acceptance test.
        var proposal: [Float]
    }

    /// K: tokens per window.
    let window: Int
    /// One lane per row (zipar-sjd) or one lane for the whole raster (sjd).
    let rowLanes: Bool
    /// Pending drafts by token index. In each lane they run contiguously from its first non-final token,
    /// so the next pass can feed them without gaps.
    var drafts: [Int: Draft] = [:]
    /// Drafts drawn so far per token: the round of the token's next draft, and of that draft's test. With
    /// the token index it keys every draw, so a draw depends only on this request's own history.
    var attempts: [Int: Int] = [:]
    /// Per lane, the distribution of the furthest token its latest pass predicted. A token that enters a
    /// window with no distribution of its own is drafted from it (its nearest predicted neighbour); a lane
    /// without one yet runs a window of one token.
    var latest: [Int: [Float]] = [:]

    init(window: Int, rowLanes: Bool) {
        self.window = window; self.rowLanes = rowLanes
    }
}

extension RequestDecoder {
    func jacobiLane(of t: Int) -> Int { jacobi?.rowLanes == true ? t / grid : 0 }

    /// First and past-the-end token of lane `lane`.
    func jacobiLaneBounds(_ lane: Int) -> (start: Int, end: Int) {
        jacobi?.rowLanes == true ? (lane * grid, lane * grid + grid) : (0, layout.imageTokens)
    }

    /// The first non-final token of the lane (finals are a prefix of each lane).
    func jacobiNext(lane: Int) -> Int {
        jacobi?.rowLanes == true ? lane * grid + rowCount[lane] : decoded
    }

    /// Past-the-end of the tokens the lane may predict now. Under zipar-sjd, x(i,j) needs min(j + S, W) FINAL
    /// tokens of row i-1 (drafts there do not count), the rule of zipar:S; sjd runs the raster freely.
    func jacobiAllowedEnd(lane i: Int) -> Int {
        let bounds = jacobiLaneBounds(i)
        guard jacobi?.rowLanes == true, i >= 1 else { return bounds.end }
        let above = rowCount[i - 1]
        if above == grid { return bounds.end }
        return bounds.start + max(0, above - startWindow(row: i) + 1)
    }

    /// The draw of a fresh draft of token `t`: from the lane's latest distribution, with the token's next round.
    func freshDraft(token t: Int, lane: Int) -> Int {
        guard let j = jacobi, let proposal = j.latest[lane] else { preconditionFailure("fresh draft without a proposal") }
        let u = CounterRNG.uniform(seed: request.seed, token: t, purpose: .draft, round: j.attempts[t] ?? 0)
        return Sampler.draw(proposal, uniform: u)
    }

    /// The windows of every lane that can move, in lane order (top rows first). Pure.
    func jacobiQueries() -> [PlannedQuery] {
        guard let j = jacobi else { return [] }
        let W = grid
        var out: [PlannedQuery] = []
        let lanes = j.rowLanes ? gridRows : 1
        for lane in 0..<lanes {
            let next = jacobiNext(lane: lane)
            let end = min(next + j.window, jacobiAllowedEnd(lane: lane))
            // A running row never waits: the row above gains a final token every pass, and this row's
            // window never passes the allowance, so there is always room after it. So the newest final token of
            // a row, which ended its window and was never fed, is fed by the next pass's head query before
            // the rows below read it.
            guard next < end else { continue }
            let width = j.latest[lane] == nil ? 1 : end - next
            let start = out.count
            for t in next..<(next + width) {
                // The input of the query predicting t: the value of token t - 1, final at the window's head,
                // else its pending draft, else a fresh draft drawn now.
                let value: Int, fresh: Bool
                if t == next {
                    if t % W == 0 && !layout.hasEndOfRow {
                        // The exact head of a row: its input is the row above's last slot, real or placeholder.
                        let (input, isPlaceholder) = lastSlotInput(ofRow: t / W - 1)
                        out.append(query(clsTokenNum + t - 1, input, .jacobi(token: t, freshDraft: false), placeholder: isPlaceholder))
                        continue
                    }
                    (value, fresh) = (t % W == 0 ? -1 : tokens[t - 1], false)
                } else if let d = j.drafts[t - 1] {
                    (value, fresh) = (d.token, false)
                } else {
                    (value, fresh) = (freshDraft(token: t - 1, lane: lane), true)
                }
                if t % W == 0, let eol = layout.endOfRow?.token, let eolPosition = layout.endOfRowPosition(row: t / W - 1) {
                    // End-of-row layout: the token before x(i,0) is EOL(i-1), known, so that query feeds it as
                    // it is. Inside a window the row's last token is a draft: it gets a logits-less write of its
                    // own at its slot, in this pass, before the EOL query reads it. (At the head it is final,
                    // and written by the `.feed` the decoder plans for every finished row's last token.)
                    if value >= 0 {
                        out.append(query(layout.position(ofToken: t - 1), .token(layout.vocabularyID(code: value)),
                                         .draftFeed(token: t - 1, freshDraft: fresh)))
                    }
                    out.append(query(eolPosition, .token(eol), .jacobi(token: t, freshDraft: false)))
                } else {
                    out.append(query(layout.position(ofToken: t - 1), .token(layout.vocabularyID(code: value)),
                                     .jacobi(token: t, freshDraft: fresh)))
                }
            }
            let hidden = draftSlots(above: lane)
            for k in start..<out.count { out[k].hidden = hidden }
        }
        return out
    }

    /// Under zipar-sjd, the slots of the rows above row `i` past their final tokens (their last slot excepted,
    /// which holds the placeholder on LlamaGen's layout; on the end-of-row layout a row's last token is only
    /// ever written final and its end-of-row token is known, so neither holds a guess): they may hold drafts,
    /// being verified in this very pass or rejected in an earlier one, and a token must see only final tokens
    /// of other rows. Empty for sjd (one lane).
    func draftSlots(above i: Int) -> [Range<Int>] {
        guard jacobi?.rowLanes == true else { return [] }
        var out: [Range<Int>] = []
        for r in 0..<i where rowCount[r] < grid - 1 {
            out.append(layout.position(row: r, column: rowCount[r])..<layout.position(row: r, column: grid - 1))
        }
        return out
    }

    /// Consumes the window queries of a pass (`windowed`, in plan order, with their sampling distributions).
    func applyJacobi(_ windowed: [(query: PlannedQuery, probs: [Float])], rowCountAtPlan above: [Int], pass: Int) {
        guard var j = jacobi else { return }
        let seed = request.seed, W = grid
        func uniform(_ t: Int, _ purpose: DrawPurpose, _ round: Int) -> Double {
            CounterRNG.uniform(seed: seed, token: t, purpose: purpose, round: round)
        }
        // Fresh drafts first: they were drawn by plan() from the proposals as they stood before this pass.
        for (pq, _) in windowed {
            let drafted: Int   // the token the query's input is a fresh draft of
            switch pq.action {
            case .jacobi(let t, true): drafted = t - 1
            case .draftFeed(let t, true): drafted = t
            default: continue
            }
            guard let id = pq.input.tokenValue, let x = layout.code(vocabularyID: id),
                  let proposal = j.latest[jacobiLane(of: drafted + 1)] else { continue }
            j.drafts[drafted] = JacobiState.Draft(token: x, proposal: proposal)
            j.attempts[drafted, default: 0] += 1
            stats.drafts += 1
        }
        var lane = -1
        var exact = true
        for (pq, probs) in windowed {
            guard case .jacobi(let t, _) = pq.action else { continue }
            if jacobiLane(of: t) != lane {
                lane = jacobiLane(of: t)
                exact = true   // each window starts on a final input
            }
            if exact {
                let x: Int
                if let d = j.drafts.removeValue(forKey: t) {
                    let round = (j.attempts[t] ?? 1) - 1          // the round the draft was drawn in
                    let v = Sampler.verify(draft: d.token, proposal: d.proposal, target: probs,
                                           acceptUniform: uniform(t, .accept, round),
                                           resampleUniform: uniform(t, .resample, round))
                    x = v.token
                    if v.accepted { stats.accepted += 1 } else { exact = false }
                } else {
                    // Never drafted: the same draw ntp makes, so a window of one is ntp token for token.
                    x = Sampler.draw(probs, uniform: uniform(t, .sample, 0))
                }
                if t % W == 0 && t > 0 { stats.rowWindows[t / W - 1] = j.rowLanes ? above[t / W - 1] : W }
                finalize(t, x, pass: pass)
            } else {
                // Its context held a rejected draft: this distribution becomes the new draft's proposal.
                let round = j.attempts[t] ?? 0
                j.drafts[t] = JacobiState.Draft(token: Sampler.draw(probs, uniform: uniform(t, .draft, round)), proposal: probs)
                j.attempts[t] = round + 1
                stats.drafts += 1
            }
            j.latest[lane] = probs
        }
        // A row's last token whose draft this pass wrote and then accepted already holds its final value:
        // the `.feed` that finalize() planned for it would only write the same K/V again.
        for (pq, _) in windowed {
            guard case .draftFeed(let t, _) = pq.action, tokens[t] >= 0,
                  pq.input.tokenValue == layout.vocabularyID(code: tokens[t]) else { continue }
            unfedRowEnds.remove(t / W)
        }
        jacobi = j
    }
}
