// auth: sign in and sign up. Both store the token the server returns and go on to the page the
// visitor wanted (?next=) or home.

import { api, auth, fieldErrors } from './api.js';
import { field, h, icon, setBusy, toast } from './ui.js';

function shell(title, intro, form, footer) {
  return h('section', { class: 'page auth-page' },
    h('div', { class: 'auth-card card' },
      h('img', { src: '/assets/logo.svg', alt: '', class: 'auth-logo', width: '88', height: '88' }),
      h('h1', {}, title),
      h('p', { class: 'lead' }, intro),
      form,
      h('p', { class: 'auth-footer' }, footer)));
}

function input(name, type, attrs = {}) {
  return h('input', { name, type, class: 'input', ...attrs });
}

function goNext(ctx) {
  const next = ctx.query.get('next');
  ctx.navigate(next && next.startsWith('/') && !next.startsWith('/sign-') ? next : '/dashboard');
}

export async function signIn(ctx) {
  const email = field('Email', input('email', 'email', { autocomplete: 'email', required: true }));
  const password = field('Password', input('password', 'password', { autocomplete: 'current-password', required: true }));
  const status = h('div', { class: 'form-status', role: 'alert' });
  const submit = h('button', { class: 'btn btn-primary btn-big btn-block', type: 'submit' }, icon('book'), 'Sign in');
  const form = h('form', { class: 'form', novalidate: true }, email, password, status, submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    status.textContent = '';
    const fd = new FormData(form);
    const body = { email: String(fd.get('email') || '').trim(), password: String(fd.get('password') || '') };
    email.setError(body.email ? '' : 'Please type your email.');
    password.setError(body.password ? '' : 'Please type your password.');
    if (!body.email || !body.password) return;
    setBusy(submit, true);
    try {
      const user = await api('/login/', { method: 'POST', body, noAuthRedirect: true });
      if (!user || !user.token) throw new Error('The server did not send a sign-in token.');
      auth.set(user);
      toast('Welcome back' + (user.firstName ? ', ' + user.firstName : '') + '!', 'success');
      goNext(ctx);
    } catch (err) {
      const fe = fieldErrors(err);
      email.setError(fe.email || '');
      password.setError(fe.password || '');
      status.textContent = err.status === 401 ? 'That email and password do not match.' : err.message;
    } finally {
      setBusy(submit, false);
    }
  });
  ctx.main.append(shell('Welcome back!', 'Sign in to hear your stories again.', form,
    ['New here? ', h('a', { href: '#/sign-up' }, 'Create an account')]));
}

export async function signUp(ctx) {
  const f = {
    first_name: field('First name', input('first_name', 'text', { autocomplete: 'given-name', maxlength: '150' })),
    last_name: field('Last name', input('last_name', 'text', { autocomplete: 'family-name', maxlength: '150' })),
    username: field('Username', input('username', 'text', { autocomplete: 'username', required: true, minlength: '4', maxlength: '150' }),
      'At least 4 letters or numbers.'),
    email: field('Email', input('email', 'email', { autocomplete: 'email', required: true })),
    password: field('Password', input('password', 'password', { autocomplete: 'new-password', required: true, minlength: '8' }),
      'At least 8 characters.'),
    confirm_password: field('Type the password again', input('confirm_password', 'password', { autocomplete: 'new-password', required: true })),
  };
  const terms = h('input', { type: 'checkbox', name: 'accept_terms', id: 'accept-terms', required: true });
  const termsErr = h('p', { class: 'field-error', hidden: true, id: 'terms-err' });
  terms.setAttribute('aria-describedby', 'terms-err');
  const termsField = h('div', { class: 'field check' }, h('label', { for: 'accept-terms', class: 'check-label' }, terms,
    ' I am a grown-up and I accept the terms of use.'), termsErr);
  const status = h('div', { class: 'form-status', role: 'alert' });
  const submit = h('button', { class: 'btn btn-primary btn-big btn-block', type: 'submit' }, icon('star'), 'Create my account');
  const form = h('form', { class: 'form', novalidate: true },
    h('div', { class: 'grid-2' }, f.first_name, f.last_name), f.username, f.email,
    h('div', { class: 'grid-2' }, f.password, f.confirm_password), termsField, status, submit);

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    status.textContent = '';
    const fd = new FormData(form);
    const body = {};
    for (const k of Object.keys(f)) body[k] = String(fd.get(k) || '').trim();
    body.password = String(fd.get('password') || '');
    body.confirm_password = String(fd.get('confirm_password') || '');
    body.user_type = 'user';
    body.accept_terms = terms.checked;
    const errs = {};
    if (body.username.length < 4) errs.username = 'Usernames need at least 4 characters.';
    if (!/^\S+@\S+\.\S+$/.test(body.email)) errs.email = 'Please type a real email address.';
    if (body.password.length < 8) errs.password = 'Passwords need at least 8 characters.';
    if (body.password !== body.confirm_password) errs.confirm_password = 'The two passwords are different.';
    for (const k of Object.keys(f)) f[k].setError(errs[k] || '');
    termsErr.hidden = terms.checked;
    termsErr.textContent = terms.checked ? '' : 'Please accept the terms to continue.';
    if (Object.keys(errs).length || !terms.checked) {
      const first = form.querySelector('[aria-invalid="true"]') || (!terms.checked ? terms : null);
      if (first) first.focus();
      return;
    }
    setBusy(submit, true);
    try {
      const user = await api('/register/', { method: 'POST', body, noAuthRedirect: true });
      if (!user || !user.token) throw new Error('Account created. Please sign in.');
      auth.set(user);
      toast('Welcome to Nova Storyteller!', 'success');
      goNext(ctx);
    } catch (err) {
      const fe = fieldErrors(err);
      let shown = false;
      for (const k of Object.keys(f)) {
        if (fe[k]) shown = true;
        f[k].setError(fe[k] || '');
      }
      if (fe.accept_terms) {
        termsErr.hidden = false;
        termsErr.textContent = fe.accept_terms;
      }
      status.textContent = shown ? 'Please check the highlighted fields.' : err.message;
    } finally {
      setBusy(submit, false);
    }
  });
  ctx.main.append(shell('Create an account', 'Make stories with your child: write, listen and draw together.', form,
    ['Already have an account? ', h('a', { href: '#/sign-in' }, 'Sign in')]));
}
