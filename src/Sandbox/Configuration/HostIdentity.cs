using Sandboxing.Interop;

namespace Sandboxing;

/// <summary>Who the calling process is on the host; validation depends on it.</summary>
internal readonly record struct HostIdentity(uint EffectiveUid, uint EffectiveGid)
{
    public static HostIdentity Current => new(LibC.geteuid(), LibC.getegid());

    public bool IsRoot => EffectiveUid == 0;
}
