/**
 * A browser's part of a sign-in, in plain HTTP: a cookie jar (per host, as browsers keep cookies; paths ignored),
 * redirects followed by hand (so a test can stop at one and tamper with it), and the OpenID provider's development
 * login and consent forms submitted.
 */
export interface Answer {
  status: number;
  url: string;
  location: string | undefined;
  headers: Headers;
  text: string;
}

export class HttpBrowser {
  private readonly jar = new Map<string, Map<string, string>>();

  cookie(host: string, name: string): string | undefined {
    return this.jar.get(host)?.get(name);
  }

  async request(method: 'GET' | 'POST', url: string, form?: Record<string, string>): Promise<Answer> {
    const target = new URL(url);
    const cookies = [...(this.jar.get(target.hostname) ?? new Map<string, string>())]
      .map(([k, v]) => `${k}=${v}`)
      .join('; ');
    const res = await fetch(target, {
      method,
      redirect: 'manual',
      headers: {
        accept: 'text/html',
        ...(cookies ? { cookie: cookies } : {}),
        ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      ...(form ? { body: new URLSearchParams(form).toString() } : {}),
    });
    for (const set of res.headers.getSetCookie()) {
      const [pair = '', ...attributes] = set.split(';');
      const name = pair.slice(0, pair.indexOf('='));
      const value = pair.slice(pair.indexOf('=') + 1);
      const jar = this.jar.get(target.hostname) ?? new Map<string, string>();
      this.jar.set(target.hostname, jar);
      const expired = attributes.some((a) => /^\s*(max-age=0|expires=thu, 01 jan 1970)/i.test(a));
      if (expired || value === '') jar.delete(name);
      else jar.set(name, value);
    }
    const location = res.headers.get('location') ?? undefined;
    return {
      status: res.status,
      url: target.href,
      location: location === undefined ? undefined : new URL(location, target).href,
      headers: res.headers,
      text: await res.text(),
    };
  }

  /** Follows redirects from `url` until one leaves for `stopAt` (answered, not followed) or a page answers. */
  async follow(url: string, stopAt?: string): Promise<Answer> {
    let answer = await this.request('GET', url);
    for (let hops = 0; answer.location !== undefined && hops < 20; hops++) {
      if (stopAt !== undefined && answer.location.startsWith(stopAt)) return answer;
      answer = await this.request('GET', answer.location);
    }
    return answer;
  }

  /**
   * At the provider (from its authorization URL): signs in as `login` and consents, or aborts (`deny`); answers the
   * URL the provider sends the browser back to (hoist's callback), not yet followed.
   */
  async atProvider(authorizationUrl: string, login: string, o: { deny?: boolean; callback: string }): Promise<string> {
    let page = await this.follow(authorizationUrl, o.callback);
    for (let step = 0; step < 4; step++) {
      if (page.location?.startsWith(o.callback)) return page.location;
      const action = /<form[^>]*action="([^"]+)"/.exec(page.text)?.[1];
      const prompt = /name="prompt" value="(\w+)"/.exec(page.text)?.[1];
      if (action === undefined || prompt === undefined)
        throw new Error(`no form at ${page.url} (HTTP ${page.status}): ${page.text.slice(0, 300)}`);
      const submit = new URL(action.replaceAll('&amp;', '&'), page.url).href;
      if (o.deny) page = await this.request('GET', `${submit}/abort`);
      else
        page = await this.request('POST', submit, prompt === 'login' ? { prompt, login, password: 'any' } : { prompt });
      if (page.location !== undefined && !page.location.startsWith(o.callback))
        page = await this.follow(page.location, o.callback);
    }
    throw new Error(`the provider did not send the browser back (last: ${page.url}, HTTP ${page.status})`);
  }
}
