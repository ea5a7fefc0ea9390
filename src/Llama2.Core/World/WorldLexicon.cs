namespace Llama2.Core.World;

/// <summary>
/// The value lists the gold judges compare answers with: every town, person, animal and object name, and the fixed
/// vocabularies (jobs, colours, foods, …). Written as <c>lexicon.json</c> beside the datasets so files can be judged later.
/// </summary>
/// <param name="Domains">Domain name ("town", "person", "animal", "thing", "job", "colour", "food", "animal_kind",
/// "thing_kind", "material", "insult") → its values.</param>
public sealed record WorldLexicon(IReadOnlyDictionary<string, IReadOnlyList<string>> Domains)
{
    /// <summary>The values of <paramref name="domain"/>, or none for an unknown domain (and for "number", which the judge handles).</summary>
    public IReadOnlyList<string> Values(string domain) => Domains.TryGetValue(domain, out var values) ? values : [];

    internal static WorldLexicon From(WorldEntities entities) => new(new SortedDictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal)
    {
        ["town"] = [.. entities.Towns.Select(t => t.Name)],
        ["person"] = [.. entities.People.Select(p => p.Name)],
        ["animal"] = [.. entities.Animals.Select(a => a.Name)],
        ["thing"] = [.. entities.Things.Select(t => t.Name)],
        ["job"] = Lexicon.Jobs,
        ["colour"] = Lexicon.Colours,
        ["food"] = Lexicon.Foods,
        ["animal_kind"] = Lexicon.AnimalKinds,
        ["thing_kind"] = Lexicon.ThingKinds,
        ["material"] = Lexicon.Materials,
        ["insult"] = Lexicon.Insults,
    });
}
