namespace Llama2.Training.RewardModeling;

/// <summary>
/// The margin m(rating) of the ranking loss (Llama 2 Table 27): a larger margin for a clearer preference. "none" is
/// the loss without margin; a pair without rating (or with an unknown one) gets no margin.
/// </summary>
public static class MarginTable
{
    public const string None = "none", Small = "small", Large = "large";

    /// <summary>The margin of <paramref name="rating"/> in <paramref name="table"/>.</summary>
    /// <exception cref="ArgumentException">An unknown table.</exception>
    public static double For(string table, string? rating) => table switch
    {
        None => 0,
        Small => rating switch
        {
            "significantly better" => 1,
            "better" => 2.0 / 3,
            "slightly better" => 1.0 / 3,
            _ => 0,
        },
        Large => rating switch
        {
            "significantly better" => 3,
            "better" => 2,
            "slightly better" => 1,
            _ => 0,
        },
        _ => throw new ArgumentException($"margin table '{table}' must be none, small or large"),
    };
}
