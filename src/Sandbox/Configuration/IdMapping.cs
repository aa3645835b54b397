namespace Sandboxing;

/// <summary>
/// One line of a user namespace's uid_map or gid_map: <paramref name="Count"/> ids starting at
/// <paramref name="InsideId"/> inside the sandbox are <paramref name="OutsideId"/>... outside.
/// </summary>
/// <param name="InsideId">First id as the sandbox sees it.</param>
/// <param name="OutsideId">First id as the host sees it.</param>
/// <param name="Count">Number of consecutive ids mapped.</param>
public readonly record struct IdMapping(uint InsideId, uint OutsideId, uint Count)
{
    /// <summary>Whether <paramref name="insideId"/> falls inside this mapping.</summary>
    public bool ContainsInside(uint insideId) => insideId >= InsideId && insideId - InsideId < Count;

    /// <inheritdoc />
    public override string ToString() => $"{InsideId} {OutsideId} {Count}";
}
